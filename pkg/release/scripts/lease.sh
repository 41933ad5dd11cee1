# lease.sh: the lease of an upload in flight, in its incoming folder, and
# the cleanup that respects it. A folder's mtime says nothing of its
# upload: it stands still while the envelope streams in for hours, and
# tar may set it from an archive's ./ entry.
#  - lease_take writes the folder's lease ($lease: the holder's pid, boot
#    id and start time) and touches its heartbeat ($beat) every 15 s
#    while the holder runs; lease_end stops the heartbeat.
#  - clean_incoming removes the uploads abandoned for more than $1
#    seconds: an upload whose holder runs on this host is never
#    abandoned; otherwise its age is its heartbeat's (a holder on another
#    boot, or one this login cannot see), or for a folder without a lease
#    (an upload of an older version) the folder's mtime. It prints how
#    many it removed.

# lease_id prints the boot id of this host and the start time of process
# $1 (clock ticks since boot): with the pid, a process no reuse of its pid
# can pass for. Builtins only: the upload waits for lease_take.
lease_id() {
	{ read -r lease_boot < /proc/sys/kernel/random/boot_id; } 2>/dev/null || lease_boot=
	lease_start=
	if { read -r lease_stat < "/proc/$1/stat"; } 2>/dev/null; then
		# The fields after the command's name, which ends at the last ") ";
		# the start time is the 20th of them.
		set -f
		# shellcheck disable=SC2086 # split into the fields on purpose
		set -- ${lease_stat##*") "}
		set +f
		[ $# -lt 20 ] || lease_start=${20}
	fi
	printf '%s %s\n' "$lease_boot" "$lease_start"
}

lease_take() {
	: "${lease:?}" "${beat:?}" # from prelude.sh
	printf '%s %s\n' "$$" "$(lease_id $$)" > "$1/$lease.tmp"
	mv -f "$1/$lease.tmp" "$1/$lease"
	: > "$1/$beat"
	# In the background, its output nowhere (an SSH session would wait
	# for it); it stops with the holder, or when the folder is gone.
	(while sleep 15 && kill -0 $$ 2>/dev/null && : 2>/dev/null > "$1/$beat"; do :; done) < /dev/null > /dev/null 2>&1 &
	beating=$!
}

lease_end() {
	[ -z "${beating:-}" ] || kill "$beating" 2>/dev/null || true
}

# lease_alive: the holder of the lease $1 runs on this host.
lease_alive() {
	read -r pid boot start 2>/dev/null < "$1" || return 1
	case $pid in "" | *[!0-9]*) return 1 ;; esac
	if [ -n "$boot$start" ]; then
		[ "$(lease_id "$pid")" = "$boot $start" ]
	else
		kill -0 "$pid" 2>/dev/null
	fi
}

clean_incoming() {
	: "${root:?}" "${releases:?}" "${incoming:?}" "${lease:?}" "${beat:?}" # from prelude.sh
	now='' n=0
	for d in "$root/$releases/$incoming"*; do
		[ -e "$d" ] || continue
		[ -n "$now" ] || now=$(date +%s)
		if [ -f "$d/$lease" ]; then
			if lease_alive "$d/$lease"; then continue; fi
			t=$(stat -c %Y "$d/$beat" 2>/dev/null || stat -c %Y "$d/$lease" 2>/dev/null || echo "$now")
		else
			t=$(stat -c %Y "$d" 2>/dev/null || echo "$now")
		fi
		[ $((now - t)) -gt "$1" ] || continue
		rm -rf "$d" && n=$((n + 1))
	done
	echo "$n"
}
