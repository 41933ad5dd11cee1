#!/bin/sh
# take.sh: makes a worker write a heap snapshot and waits for it.
# Arguments: pid, signal (without SIG), dir, polls, pause (seconds
# between two polls), and the prefix and suffix of node's snapshot file
# names. Sends the signal, then waits, at most polls x pause, for a new
# snapshot of that pid in dir that the process no longer holds open
# (written completely); prints its size and real path.
set -eu
pid=$1 sig=$2 dir=$3 polls=$4 pause=$5 prefix=$6 suffix=$7
fail() { printf '%s\n' "$*" >&2; exit 1; }
[ -d "/proc/$pid" ] || fail "worker pid $pid is gone"
mkdir -p "$dir" || fail "cannot create $dir"
before=
for f in "$dir/$prefix"*".$pid."*"$suffix"; do
	[ -e "$f" ] || continue
	before="$before
${f##*/}"
done
kill -s "$sig" "$pid" || fail "cannot send SIG$sig to pid $pid"
n=0
while :; do
	for f in "$dir/$prefix"*".$pid."*"$suffix"; do
		[ -f "$f" ] || continue
		case "$before
" in *"
${f##*/}
"*) continue ;; esac
		real=$(readlink -f "$f")
		held=
		for fd in /proc/"$pid"/fd/*; do
			if [ "$(readlink "$fd" 2>/dev/null || true)" = "$real" ]; then held=1; break; fi
		done
		if [ -z "$held" ]; then
			printf '%s\t%s\n' "$(stat -c %s "$real")" "$real"
			exit 0
		fi
	done
	[ -d "/proc/$pid" ] || fail "worker pid $pid exited while writing its heap snapshot (out of memory, or max_memory_restart? see pm2 logs)"
	n=$((n + 1))
	[ "$n" -le "$polls" ] || fail "no complete heap snapshot of pid $pid in $dir in time: see the worker's log (pm2 logs) for 'heap snapshot'"
	sleep "$pause"
done
