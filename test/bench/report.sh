#!/usr/bin/env bash
# report.sh runs every benchmark of docs/benchmarks.md with the arguments
# of issue 15's "must show", one after another, and writes what they
# printed into docs/benchmarks.md between the report markers: the machine
# it ran on, a table of every goal (the GOAL lines the commands print,
# benchkit.PrintGoal) and each command's whole output. Nothing in the
# table is typed in. Run it as root on an idle machine (the load average
# is printed with the numbers):
#
#	sudo bash test/bench/report.sh            # everything (about 20 minutes on 2 cores)
#	sudo bash test/bench/report.sh pack delta # some of them, by name
#
# The trees from outside the repository (a published package, node_modules
# trees) come from the npm registry; see each command's doc comment.
set -euo pipefail
cd "$(dirname "$0")/../.."
doc=docs/benchmarks.md

# The fixture's two builds (v1, and v2 with a one-line change: test/bench/delta
# makes them, -save keeps them) and a node_modules of thousands of files
# are made once, under $work, and shared by the commands.
work=${ND_BENCH_WORK:-/tmp/nd-bench}
# Each command's output is kept in $out: a run of some commands by name
# rewrites the report with theirs new and the others' as they were.
out=$work/out
mkdir -p "$out"
fixture="-save $work/fixture"
if [ -f "$work/fixture/tree-v2/server.js" ]; then
	fixture="-v1 $work/fixture/tree-v1 -v2 $work/fixture/tree-v2"
fi
if [ ! -d "$work/nm/node_modules/rxjs" ]; then
	mkdir -p "$work/nm"
	npm install --prefix "$work/nm" --no-save --no-audit --no-fund lodash@4.17.21 rxjs@7.8.1 >&2
fi

# The hosts' filesystem. This VM's root filesystem is an ext4 without a
# journal, and there ext4 checks every inode freed in the last 5-30 s
# before it hands out a new one (ialloc.c, recently_deleted: only when
# there is no journal), so a file or folder made just after a tree was
# removed costs up to 0.7 ms of system time instead of 0.02: the delivery
# numbers depended on what the bench had removed just before (the same
# commit's delta, 0.64x to 0.99x rsync's time). A server's ext4 has a
# journal (mkfs.ext4's default), so the bed (every host's home, the
# uploads; TMPDIR) goes on one: a sparse image under $work, mounted on a
# loop device, made once with mkfs.ext4's defaults. A command whose name
# ends in -rootfs runs on the root filesystem as before, so the report
# shows both.
hostfs=$work/hostfs
if ! mountpoint -q "$hostfs"; then
	mkdir -p "$hostfs"
	if [ ! -f "$work/hostfs.img" ]; then
		truncate -s 48G "$work/hostfs.img"
		mkfs.ext4 -q -F "$work/hostfs.img"
	fi
	mount -o loop "$work/hostfs.img" "$hostfs"
fi
chmod 1777 "$hostfs"
# fsof says which filesystem holds folder $1, and whether it has a journal.
fsof() {
	local src type journal=without
	read -r src type < <(findmnt -no SOURCE,FSTYPE -T "$1")
	compgen -G "/proc/fs/jbd2/${src##*/}-*" > /dev/null && journal=with
	echo "$type $journal a journal ($src, mounted on $(findmnt -no TARGET -T "$1"))"
}

# The scheduler. With the kernel's autogroup scheduling on (this VM's
# default), CPU time is shared out first between sessions, then between
# the processes of each: every host's pm2 daemon and its workers are a
# session, every SSH session another, and the bench with its load
# generator and nginx one more. On one machine that shares 2 cores among
# 16 hosts, a method's share then depended on how many sessions it
# opened, not on the work it did: a remote tool's pm2 CLI runs in an SSH
# session of its own, the bare command without SSH in the bench's, and a
# rolling reload of 16 hosts took 33.2 s against 23.4 s on the same
# commit (1.42x), 16.6 s against 14.5 s with autogroup off (1.14x). A
# real fleet has cores per host. The activation commands run with
# autogroup off (kernel.sched_autogroup_enabled=0, set back after); one
# whose name ends in -autogroup runs with it on, shown and not judged.
autogroup=/proc/sys/kernel/sched_autogroup_enabled
autogroup_was=$(cat "$autogroup" 2>/dev/null || echo)
restore() { [ -z "$autogroup_was" ] || echo "$autogroup_was" > "$autogroup"; }
trap restore EXIT
# autogroup turns autogroup scheduling on (1) or off (0), where there is any.
autogroup() { [ -z "$autogroup_was" ] || echo "$1" > "$autogroup"; }

# name | command line (run by bash -c, from the repository's root); in
# this order: delta builds the fixture the others use.
benches=(
	"delta|go run ./test/bench/delta -runs 5 $fixture"
	"delta-rootfs|go run ./test/bench/delta -runs 5 -v1 $work/fixture/tree-v1 -v2 $work/fixture/tree-v2"
	"delta-node-modules|go run ./test/bench/delta -runs 5 -v1 $work/fixture/tree-v1 -v2 $work/fixture/tree-v2 -node-modules $work/nm/node_modules"
	"deliver-16|go run ./test/bench/deliver -hosts 2,16 -runs 3 -rsync=false -tree $work/fixture/tree-v2"
	"deliver-node-modules|go run ./test/bench/deliver -hosts 2,3 -runs 3 -npm default"
	"pack|go run ./test/bench/pack -runs 3 -source $work/fixture/tree-v2"
	"activate-16|go run ./test/bench/activate -hosts 16 -batch 25% -methods ours,bare -runs 3 -rollbacks 3"
	"activate-16-local|go run ./test/bench/activate -hosts 16 -batch 25% -methods ours,bare -runs 2 -rollbacks 1 -bare-over local"
	"activate-16-local-autogroup|go run ./test/bench/activate -hosts 16 -batch 25% -methods ours,bare -runs 2 -rollbacks 1 -bare-over local"
	"delta-16|go run ./test/bench/delta -runs 3 -hosts 16 -v1 $work/fixture/tree-v1 -v2 $work/fixture/tree-v2"
	"activate-10-in-a-row|go run ./test/bench/activate -hosts 16 -batch 25% -methods ours -runs 10 -rollbacks 0"
)

want=" $* "
machine() {
	echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with local changes)')"
	echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; memory $(free -g | awk '/^Mem:/ { print $2 }') GiB; $(uname -sr)"
	echo "- $(go version | cut -d' ' -f3), node $(node --version), $(ssh -V 2>&1 | cut -d, -f1), $(nginx -v 2>&1 | cut -d' ' -f3), pm2 $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$(npm root -g)/pm2/package.json")"
	echo "- the hosts' filesystem (the bed, TMPDIR=$TMPDIR): $(fsof "$TMPDIR")"
	echo "- autogroup scheduling: $(case $(cat "$autogroup" 2>/dev/null) in 1) echo on ;; 0) echo off ;; *) echo "none (no $autogroup)" ;; esac)"
	echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

ran=()
for b in "${benches[@]}"; do
	name=${b%%|*} cmd=${b#*|}
	if [ "$want" != "  " ] && [[ $want != *" $name "* ]]; then
		continue
	fi
	echo "== $name: $cmd" >&2
	start=$(date +%s)
	export TMPDIR=$hostfs
	[[ $name != *-rootfs ]] || export TMPDIR=/tmp
	autogroup "$autogroup_was"
	case $name in
	*-autogroup) autogroup 1 ;;
	activate-*) autogroup 0 ;;
	esac
	{
		machine
		echo
		echo "\$ $cmd"
		bash -c "$cmd" 2>"$out/$name.err" || echo "(exit status $?: $(tail -n 3 "$out/$name.err" | tr '\n' ' '))"
	} | tee "$out/$name.out" >&2
	echo "($(($(date +%s) - start)) s, load average after: $(cut -d' ' -f1-3 /proc/loadavg))" >> "$out/$name.out"
	ran+=("$name")
done
[ "${#ran[@]}" -gt 0 ] || { echo "no command of that name: ${benches[*]%%|*}" >&2; exit 2; }
have=()
for b in "${benches[@]}"; do
	[ -f "$out/${b%%|*}.out" ] && have+=("${b%%|*}")
done

{
	echo "<!-- report:begin (written by test/bench/report.sh; do not edit by hand) -->"
	echo
	echo "Each command's output below says the machine it ran on, when, and the load average before and after."
	echo
	echo "| goal | ours | alternative | ratio | target | met |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for name in "${have[@]}"; do
		# The goals of the root filesystem and of autogroup on are shown,
		# not judged: the met column says so.
		shown=
		case $name in
		*-rootfs) shown="root fs, no journal" ;;
		*-autogroup) shown="autogroup on" ;;
		esac
		awk -F'\t' -v shown="$shown" '$1 == "GOAL" {
			if (shown != "") { $2 = "(" shown ") " $2; $7 = $7 " (not judged)" }
			printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7
		}' "$out/$name.out"
	done
	for name in "${have[@]}"; do
		echo
		echo "<details><summary>$name</summary>"
		echo
		echo '```'
		grep -v '^GOAL' "$out/$name.out"
		echo '```'
		echo
		echo "</details>"
	done
	echo
	echo "<!-- report:end -->"
} > "$work/report.md"

# Replace what is between the markers (or append the report).
if grep -q '^<!-- report:begin' "$doc"; then
	awk -v f="$work/report.md" '
		/^<!-- report:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/^<!-- report:end/ { skip = 0; next }
		!skip' "$doc" > "$work/doc.md"
else
	cat "$doc" "$work/report.md" > "$work/doc.md"
fi
cp "$work/doc.md" "$doc"
echo "wrote $doc" >&2
