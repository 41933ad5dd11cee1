# receive-unpack.sh: unpack reads the upload (a tar envelope on stdin)
# into the control folder $ctl and checks its payload (the member named
# $3) against the sha256 $1 before tar sees a byte of it: a damaged or
# tampered upload is never unpacked. Then it unpacks the payload, an
# archive compressed by the program $2 (Format.Tool: "tar" for none), into
# the incoming folder $tmp.
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
	rm -f "$ctl/$payload"
}
