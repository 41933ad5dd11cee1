# receive-verify.sh: verify checks the tree $tmp (in the incoming folder)
# against the file manifest $ctl/files before the release gets its
# name: the manifest's own sha256 is $1, every file's sha256 is its line's,
# and every path (outside the release's state dir $state) is there with its
# type, mode, size and link target, no path more or less; the shared
# paths (unshared, receive-shared.sh) are left out on both sides. A
# failure says "VERIFY:".
verify() {
	: "${state:?}" # from prelude.sh
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	want=$1
	got=$(sha256sum < "$ctl/files" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "VERIFY: the assembled file manifest has sha256 $got, want $want"
	unshared 1 < "$ctl/files" > "$ctl/own"
	cd "$tmp" || fail "cannot enter $tmp"
	if ! awk -F'\t' '$2 == "f" { print $5 "  " $1 }' "$ctl/own" | sha256sum -c --quiet --strict - > "$ctl/bad" 2>&1; then
		grep -v '^sha256sum: WARNING' "$ctl/bad" > "$ctl/bad.1" || true
		fail "VERIFY: $(grep -c . "$ctl/bad.1") files differ from the manifest: $(head -n 3 "$ctl/bad.1" | tr '\n' ' ')"
	fi
	find . -mindepth 1 -path "./$state" -prune -o -printf '%P\t%y\t%m\t%s\t%l\n' |
		awk -F'\t' -v OFS='\t' '{ if ($2 != "f") $4 = 0; if ($2 != "l") $5 = ""; print }' | unshared 1 | sort > "$ctl/have"
	awk -F'\t' -v OFS='\t' '{ if ($2 != "l") $5 = ""; print }' "$ctl/own" > "$ctl/want"
	cmp -s "$ctl/want" "$ctl/have" || fail "VERIFY: the tree differs from the manifest (< manifest, > tree): $(diff "$ctl/want" "$ctl/have" | grep '^[<>]' | head -n 3 | tr '\n' ' ')"
	cd /
}
