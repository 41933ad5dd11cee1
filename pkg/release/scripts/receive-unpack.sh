# receive-unpack.sh: unpack reads the upload (a tar envelope on stdin)
# into the control folder $ctl and checks its payload (the member named
# $3) against the sha256 $1 before tar sees a byte of it: a damaged or
# tampered upload is never unpacked. Then it unpacks the payload, an
# archive compressed by the program $2 (Format.Tool: "tar" for none), into
# the tree $tmp.
unpack() {
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	sha=$1 tool=$2 payload=$3
	mkdir "$ctl"
	tar -x -f - -C "$ctl" --no-same-owner 2>"$ctl.err" || fail "the upload was cut or damaged: $(head -c 300 "$ctl.err")"
	rm -f "$ctl.err"
	[ -f "$ctl/$payload" ] || fail "the upload was cut: no payload"
	got=$(sha256sum < "$ctl/$payload" | cut -d' ' -f1)
	[ "$got" = "$sha" ] || fail "checksum mismatch after upload: got $got, want $sha (the upload was cut or damaged)"
	set --
	[ "$tool" = tar ] || set -- --use-compress-program="$tool"
	tar -x "$@" -p -f "$ctl/$payload" -C "$tmp" --no-same-owner
	# tar gives the folder it unpacks into the mode and mtime of the
	# archive's ./ entry, if it has one (GNU tar's --no-overwrite-dir
	# keeps the mode, not the mtime; --exclude=. drops every member;
	# busybox tar has neither): $tmp is a folder of its own inside the
	# incoming one, and gets 755 and now back.
	chmod 755 "$tmp"
	touch "$tmp"
	rm -f "$ctl/$payload"
}
