# receive-assemble.sh: assemble makes the tree $tmp of delta release $2
# from base release $1 and the control folder $ctl, where unpack left the
# changed files in $tmp and the envelope's members
# $4 (the edit: the manifest lines that differ from the base's, gzip'd)
# and $5 (the derive list: "mode\tpath" of the files made from the base's
# by replacing its id, gzip'd).
#  - The new file manifest, $ctl/files: the base's lines, less those
#    the edit removes or replaces, plus the edit's own.
#  - Every file of the base the edit leaves alone is taken from the base:
#    hard-linked where a running server never writes (node_modules/**, and
#    .next/static/** and public/** of the app dir $3), copied elsewhere.
#    linked and copied count them.
#  - The derived files: one cp, one sed and one chmod per mode for all of
#    them; a process per file costs seconds on a busy host.
#  - Nothing is taken from the base at a shared path (unshared,
#    receive-shared.sh): the base has its link there.
#  - $ctl/hash lists the edit's files (sent or derived): the files new
#    on this host, which verify hashes (the base's are trusted).
# A failure says "BASE:": this host's base is not what it should be.
assemble() {
	: "${root:?}" "${releases:?}" "${manifest:?}" "${files:?}" # from prelude.sh
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	base=$1 id=$2 app=$3 edit_gz=$4 derive_gz=$5
	b=$root/$releases/$base
	if [ ! -f "$b/$manifest" ] || [ ! -f "$b/$files" ]; then
		fail "BASE: release $base is gone or incomplete"
	fi
	gzip -dc < "$ctl/$edit_gz" > "$ctl/edit"
	awk -F'\t' '$2 == "f" { print $1 }' "$ctl/edit" > "$ctl/hash"
	awk -F'\t' 'FILENAME == ARGV[1] { del[$1] = 1; if ($2 != "-") print; next } !($1 in del)' "$ctl/edit" "$b/$files" | sort > "$ctl/files"
	unshared 1 < "$b/$files" > "$ctl/base"

	awk -F'\t' -v app="$app" -v L="$ctl/link" -v C="$ctl/copy" '
		function under(p, dir) { return substr(p, 1, length(dir)) == dir }
		function shared(p,  a) {
			a = (app == "" || app == ".") ? "" : app "/"
			return p ~ /(^|\/)node_modules\// || under(p, a ".next/static/") || under(p, a "public/")
		}
		FILENAME == ARGV[1] { del[$1] = 1; next }
		$2 == "f" && !($1 in del) { if (shared($1)) print $1 > L; else print $1 > C }
	' "$ctl/edit" "$ctl/base"
	touch "$ctl/link" "$ctl/copy"
	(cd "$b" && xargs -d '\n' -r cp -l --parents -t "$tmp" -- < "$ctl/link") 2>"$ctl.err" || fail "BASE: cannot hard-link the files of $base: $(head -c 300 "$ctl.err")"
	(cd "$b" && xargs -d '\n' -r cp -p --parents -t "$tmp" -- < "$ctl/copy") 2>"$ctl.err" || fail "BASE: cannot copy the files of $base: $(head -c 300 "$ctl.err")"
	rm -f "$ctl.err"
	# shellcheck disable=SC2034 # receive.sh answers with them
	linked=$(wc -l < "$ctl/link") copied=$(wc -l < "$ctl/copy")

	old=$(printf '%s' "$base" | sed 's/[.]/[.]/g')
	gzip -dc < "$ctl/$derive_gz" | unshared 2 > "$ctl/derive"
	cut -f2- "$ctl/derive" > "$ctl/derive.paths"
	ok=
	(cd "$b" && xargs -d '\n' -r cp --parents -t "$tmp" -- < "$ctl/derive.paths") 2>"$ctl.err" &&
		(cd "$tmp" && xargs -d '\n' -r sed -i "s/$old/$id/g" -- < "$ctl/derive.paths") 2>>"$ctl.err" && ok=1
	cut -f1 "$ctl/derive" | sort -u > "$ctl/derive.modes"
	while read -r m; do
		awk -F'\t' -v m="$m" '$1 == m { print substr($0, length(m) + 2) }' "$ctl/derive" |
			(cd "$tmp" && xargs -d '\n' -r chmod "$m" --) 2>>"$ctl.err" || ok=
	done < "$ctl/derive.modes"
	[ -n "$ok" ] || fail "BASE: cannot make files from those of $base: $(head -c 300 "$ctl.err")"
	rm -f "$ctl.err"
}
