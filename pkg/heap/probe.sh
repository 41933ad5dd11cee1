#!/bin/sh
# probe.sh: what a host says about workers before a heap snapshot;
# changes nothing. Arguments: triples pid, signal, dir (signal and dir
# may be empty: read from node's command line, which pm2's process.title
# may hide). Prints for each a line: W, pid, the --heapsnapshot-signal,
# SigCgt, the free KiB of the dir (or of its nearest existing parent)
# and the dir (--diagnostic-dir, else the cwd); G, pid for a process
# that is gone.
set -eu
opt() {
	tr '\0' '\n' < "/proc/$1/cmdline" | awk -v n="$2" '
		NR == 1 { next }
		want { print; exit }
		index($0, n "=") == 1 { print substr($0, length(n) + 2); exit }
		$0 == n { want = 1; next }'
}
while [ $# -ge 3 ]; do
	pid=$1 sig=$2 dir=$3
	shift 3
	if [ ! -r "/proc/$pid/cmdline" ]; then printf 'G\t%s\n' "$pid"; continue; fi
	[ -n "$sig" ] || sig=$(opt "$pid" --heapsnapshot-signal)
	[ -n "$dir" ] || dir=$(opt "$pid" --diagnostic-dir)
	cwd=$(readlink "/proc/$pid/cwd" || true)
	[ -n "$dir" ] || dir=$cwd
	case $dir in /*) ;; *) dir=$cwd/$dir ;; esac
	cgt=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$pid/status")
	d=$dir
	while [ ! -d "$d" ]; do d=$(dirname "$d"); done
	free=$(df -Pk "$d" | awk 'NR == 2 { print $4 }')
	printf 'W\t%s\t%s\t%s\t%s\t%s\n' "$pid" "$sig" "$cgt" "$free" "$dir"
done
