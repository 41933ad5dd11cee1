# receive-assemble.sh: a delta's tree $tmp, made from its base release
# and the control folder $ctl, where unpack leaves the changed files in
# $tmp and the envelope's members: the edit (the manifest lines that
# differ from the base's, gzip'd) and the derive list ("mode\tpath" of
# the files made from the base's by replacing its id, gzip'd).
# assemble_plan (base $1, app dir $2, edit $3, derive list $4) runs while
# the payload is still coming (unpack_ready): one awk reads the edit, the
# derive list and the base's file manifest once and writes every list
# below; a process per step (or per file) costs milliseconds on a busy
# host. assemble (base $1, release id $2) takes the files once the
# unpack is over (unpack_wait): the tar of the payload makes every folder
# (it holds them all), and a second process making them meanwhile only
# fought it for the same folders.
#  - The new file manifest, $ctl/files: the base's lines, less those
#    the edit removes or replaces, plus the edit's own, merged in order
#    (both are sorted as sort does in the C locale).
#  - Every file of the base the edit leaves alone is taken from the base:
#    hard-linked where a running server never writes (node_modules/**, and
#    .next/static/** and public/** of the app dir), copied elsewhere
#    (cp -p: verify trusts a base file not newer than the base's
#    manifest). linked and copied count them.
#  - The derived files are hard-linked from the base, then sed -i writes
#    each anew (a new file renamed over the link: the base's is never
#    written) and a chmod per mode gives it its mode, once every sed is
#    done: a link to the base is never chmod'ed.
#  - Nothing is taken from the base at a shared path (unshared,
#    receive-shared.sh): the base has its link there.
#  - $ctl/hash lists the edit's files (sent or derived): the files new
#    on this host, which verify hashes (the base's are trusted).
# A failure says "BASE:": this host's base is not what it should be.
assemble_plan() {
	: "${root:?}" "${releases:?}" "${manifest:?}" "${files:?}" # from prelude.sh
	: "${ctl:?}" # from receive.sh
	: "${unshared_awk:?}" # from receive-shared.sh
	base=$1 app=$2 edit_gz=$3 derive_gz=$4
	b=$root/$releases/$base
	if [ ! -f "$b/$manifest" ] || [ ! -f "$b/$files" ]; then
		fail "BASE: release $base is gone or incomplete"
	fi
	gzip -dc < "$ctl/$edit_gz" > "$ctl/edit"
	gzip -dc < "$ctl/$derive_gz" > "$ctl/derive"
	counts=$(awk -F'\t' -v app="$app" -v c="$ctl" -v base="$base" "$unshared_awk"'
		function server(p,  a) {
			a = (app == "" || app == ".") ? "" : app "/"
			return !(p ~ /(^|\/)node_modules\// || under(p, a ".next/static/") || under(p, a "public/"))
		}
		function under(p, dir) { return substr(p, 1, length(dir)) == dir }
		BEGIN { printf "" > (c "/hash"); printf "" > (c "/link"); printf "" > (c "/copy"); printf "" > (c "/derive.paths") }
		FILENAME == ARGV[1] {
			del[$1] = 1
			if ($2 != "-") edit[++ne] = $0
			if ($2 == "f") print $1 > (c "/hash")
			next
		}
		FILENAME == ARGV[2] {
			p = substr($0, length($1) + 2)
			if (!unshared(p)) next
			derived[++nd] = p
			print p > (c "/mode." $1)
			next
		}
		{
			for (; ie < ne && (edit[ie + 1] "") < ($0 ""); ie++) print edit[ie + 1] > (c "/files")
			if ($1 in del) next
			print > (c "/files")
			if ($2 != "f" || !unshared($1)) next
			if (server($1)) { print $1 > (c "/copy"); nc++ } else { print $1 > (c "/link"); nl++ }
		}
		END {
			for (; ie < ne; ie++) print edit[ie + 1] > (c "/files")
			for (i = 1; i <= nd; i++) { print derived[i] > (c "/link"); print derived[i] > (c "/derive.paths") }
			gsub(/[.]/, "[.]", base)
			print nl + 0, nc + 0, base
		}
	' "$ctl/edit" "$ctl/derive" "$b/$files") || fail "BASE: cannot read the file manifest of $base"
	# shellcheck disable=SC2086 # three words: linked, copied, the base id as a regex
	set -- $counts
	# shellcheck disable=SC2034 # receive.sh answers with them
	linked=$1 copied=$2 old=$3
}

assemble() {
	: "${root:?}" "${releases:?}" # from prelude.sh
	: "${tmp:?}" "${ctl:?}" "${old:?}" # from receive.sh, assemble_plan
	base=$1 id=$2
	b=$root/$releases/$base
	(cd "$b" && xargs -d '\n' -r cp -l --parents -t "$tmp" -- < "$ctl/link") 2>"$ctl.err" || fail "BASE: cannot hard-link the files of $base: $(head -c 300 "$ctl.err")"
	(cd "$b" && xargs -d '\n' -r cp -p --parents -t "$tmp" -- < "$ctl/copy") 2>"$ctl.err" || fail "BASE: cannot copy the files of $base: $(head -c 300 "$ctl.err")"
	(cd "$tmp" && xargs -d '\n' -r sed -i "s/$old/$id/g" -- < "$ctl/derive.paths") 2>"$ctl.err" || fail "BASE: cannot make files from those of $base: $(head -c 300 "$ctl.err")"
	for m in "$ctl"/mode.*; do
		[ -f "$m" ] || continue
		(cd "$tmp" && xargs -d '\n' -r chmod "${m##*/mode.}" -- < "$m") 2>"$ctl.err" || fail "BASE: cannot make files from those of $base: $(head -c 300 "$ctl.err")"
	done
}
