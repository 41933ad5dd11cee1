# receive-unpack.sh: the upload (a tar envelope on stdin, writeEnvelope:
# the small members first, the payload, named $2, last) is read in one
# pass, in the background: unpack_start starts it, unpack_ready waits
# until the small members are in, unpack_wait until the whole envelope
# is, and checks it. Meanwhile the receive can work on the small members
# (a delta's edit: assemble takes the base's files while the payload is
# still coming).
# The small members go to the control folder $ctl; the payload is never
# stored: GNU tar hands it to the command $take, which says "go" on the
# fifo $ctl/ready (fd 4, which it inherits; the members before it are
# complete: tar runs one command at a time) and streams the payload once through sha256sum and,
# at the same time, into a second tar that unpacks it (an archive
# compressed by the program $1, Format.Tool: "tar" for none) into the
# tree $tmp. Its checksum is known when the last byte is unpacked and
# must be unpack_wait's $1; until then the tree is only a folder in the
# incoming one, which any failure removes, so a cut or damaged upload
# leaves nothing and never gets the release's name.
# (GNU tar refuses members that would land outside $tmp, so a damaged
# archive cannot write elsewhere either.)
# tee -p hashes the rest of the payload even when tar stops early (a full
# disk), so the checksum still tells a damaged upload from a failed
# unpack; the unpacking tar's messages go to stderr as they come (on a
# full disk no file could keep them).
# Every process of the unpack holds the fifo's writing end (fd 4): its
# end of file, read on fd 5, says they are all gone, so nothing writes
# into the incoming folder once unpack_wait (or unpack_abandon, before
# the folder is removed) is over, even when tar exits on a cut envelope
# without waiting for $take.
# shellcheck disable=SC2016 # expanded by the sh tar runs it with
take='case $TAR_FILENAME in
"$payload") ;;
*/*) exit 1 ;;
*) exec cat > "$ctl/$TAR_FILENAME" ;;
esac
echo go >&4 || exit 1
mkfifo "$ctl/pay.fifo" || exit 1
sha256sum < "$ctl/pay.fifo" > "$ctl/pay.sum" &
set --
[ "$tool" = tar ] || set -- --use-compress-program="$tool"
tee -p "$ctl/pay.fifo" | { tar -x "$@" -p -f - -C "$tmp" --no-same-owner; echo $? > "$ctl/pay.rc"; }
wait'

unpack_start() {
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	tool=$1 payload=$2
	mkfifo "$ctl/ready"
	# A list run in the background reads /dev/null unless told: fd 3 is
	# the upload.
	exec 3<&0
	(ctl=$ctl tmp=$tmp tool=$tool payload=$payload exec tar -x -f - --to-command="$take" <&3 3<&-) 4> "$ctl/ready" &
	unpacking=$!
	exec 3<&- 5< "$ctl/ready"
}

# unpack_ready: the members before the payload are in $ctl and the
# payload is coming (false: the envelope ended without one).
unpack_ready() {
	read -r unpack_go <&5 && [ "$unpack_go" = go ]
}

unpack_wait() {
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	sha=$1
	while read -r _ <&5; do :; done
	exec 5<&-
	st=0
	wait "$unpacking" || st=$?
	unpacking=
	[ "$st" = 0 ] || fail "the upload was cut or damaged (tar says how above)"
	[ -p "$ctl/pay.fifo" ] || fail "the upload was cut: no payload"
	{ read -r got _ < "$ctl/pay.sum"; } 2>/dev/null || got=
	{ read -r rc < "$ctl/pay.rc"; } 2>/dev/null || rc=
	if [ -n "$got" ] && [ "$got" != "$sha" ]; then
		fail "checksum mismatch after upload: got $got, want $sha (the upload was cut or damaged)"
	fi
	[ "$rc" = 0 ] || fail "cannot unpack the upload into $tmp (tar says why above)"
	[ -n "$got" ] || fail "cannot checksum the upload in $ctl"
	# tar gives the folder it unpacks into the mode and mtime of the
	# archive's ./ entry, if it has one (GNU tar's --no-overwrite-dir
	# keeps the mode, not the mtime; --exclude=. drops every member;
	# busybox tar has neither): $tmp is a folder of its own inside the
	# incoming one, and gets 755 and now back.
	chmod 755 "$tmp"
	touch "$tmp"
}

# unpack_abandon waits, on a failure, until the unpack is over (the rest
# of the upload arrives, or the connection ends), so the incoming folder
# can be removed whole.
unpack_abandon() {
	[ -n "${unpacking:-}" ] || return 0
	while read -r _ <&5; do :; done 2>/dev/null
	wait "$unpacking" 2>/dev/null || true
}
