# receive-unpack.sh: unpack reads the upload (a tar envelope on stdin,
# writeEnvelope: the small members first, the payload, named $3, last)
# in one pass. The small members go to the control folder $ctl; the
# payload is never stored: GNU tar hands it to the command $take, which
# streams it once through sha256sum and, at the same time, into a second
# tar that unpacks it (an archive compressed by the program $2,
# Format.Tool: "tar" for none) into the tree $tmp. Its checksum is known
# when the last byte is unpacked and must be $1; until then the tree is
# only a folder in the incoming one, which any failure removes, so a cut
# or damaged upload leaves nothing and never gets the release's name.
# (GNU tar refuses members that would land outside $tmp, so a damaged
# archive cannot write elsewhere either.)
# tee -p hashes the rest of the payload even when tar stops early (a full
# disk), so the checksum still tells a damaged upload from a failed
# unpack; the unpacking tar's messages go to stderr as they come (on a
# full disk no file could keep them).
# shellcheck disable=SC2016 # expanded by the sh tar runs it with
take='case $TAR_FILENAME in
"$payload") ;;
*/*) exit 1 ;;
*) exec cat > "$ctl/$TAR_FILENAME" ;;
esac
mkfifo "$ctl/pay.fifo" || exit 1
sha256sum < "$ctl/pay.fifo" > "$ctl/pay.sum" &
set --
[ "$tool" = tar ] || set -- --use-compress-program="$tool"
tee -p "$ctl/pay.fifo" | { tar -x "$@" -p -f - -C "$tmp" --no-same-owner; echo $? > "$ctl/pay.rc"; }
wait'

unpack() {
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	sha=$1 tool=$2 payload=$3
	# On a cut envelope tar exits without waiting for $take: the command
	# substitution waits for every process that holds its stdout (tar,
	# $take and the unpacking tar), so nothing writes into the incoming
	# folder once unpack is over.
	st=$(if ctl=$ctl tmp=$tmp tool=$tool payload=$payload tar -x -f - --to-command="$take"; then echo 0; else echo "$?"; fi)
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
