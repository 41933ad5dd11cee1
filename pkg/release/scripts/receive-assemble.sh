# receive-assemble.sh: assemble makes the tree $tmp of delta release $2
# from base release $1 and the control folder $ctl, where unpack left the
# changed files in $tmp and the envelope's members
# $4 (the edit: the manifest lines that differ from the base's, gzip'd)
# and $5 (the derive list: "mode\tpath" of the files made from the base's
# by replacing its id, gzip'd).
# One awk reads the edit, the derive list and the base's file manifest
# once and writes every list below; a process per step (or per file)
# costs milliseconds on a busy host.
#  - The new file manifest, $ctl/files: the base's lines, less those
#    the edit removes or replaces, plus the edit's own, merged in order
#    (both are sorted as sort does in the C locale).
#  - Every file of the base the edit leaves alone is taken from the base:
#    hard-linked where a running server never writes (node_modules/**, and
#    .next/static/** and public/** of the app dir $3), copied elsewhere
#    (cp -p: verify trusts a base file not newer than the base's
#    manifest). linked and copied count them.
#  - The derived files are hard-linked from the base, then sed -i writes
#    each anew (a new file renamed over the link: the base's is never
#    written) and a chmod per mode gives it its mode, once every sed is
#    done: a link to the base is never chmod'ed.
#  - It runs while unpack's tar writes the files sent (unpack_ready):
#    the folders of the new manifest are made first, the files are
#    another's (the edit's are never taken from the base).
#  - Nothing is taken from the base at a shared path (unshared,
#    receive-shared.sh): the base has its link there.
#  - $ctl/hash lists the edit's files (sent or derived): the files new
#    on this host, which verify hashes (the base's are trusted).
# A failure says "BASE:": this host's base is not what it should be.
assemble() {
	: "${root:?}" "${releases:?}" "${manifest:?}" "${files:?}" # from prelude.sh
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	: "${unshared_awk:?}" # from receive-shared.sh
	base=$1 id=$2 app=$3 edit_gz=$4 derive_gz=$5
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
		BEGIN { printf "" > (c "/hash"); printf "" > (c "/link"); printf "" > (c "/copy"); printf "" > (c "/derive.paths"); printf "" > (c "/dirs") }
		function out(l, p, type) {
			print l > (c "/files")
			if (type == "d" && unshared(p)) print p > (c "/dirs")
		}
		FILENAME == ARGV[1] {
			del[$1] = 1
			if ($2 != "-") { edit[++ne] = $0; ep[ne] = $1; et[ne] = $2 }
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
			for (; ie < ne && (edit[ie + 1] "") < ($0 ""); ie++) out(edit[ie + 1], ep[ie + 1], et[ie + 1])
			if ($1 in del) next
			out($0, $1, $2)
			if ($2 != "f" || !unshared($1)) next
			if (server($1)) { print $1 > (c "/copy"); nc++ } else { print $1 > (c "/link"); nl++ }
		}
		END {
			for (; ie < ne; ie++) out(edit[ie + 1], ep[ie + 1], et[ie + 1])
			for (i = 1; i <= nd; i++) { print derived[i] > (c "/link"); print derived[i] > (c "/derive.paths") }
			gsub(/[.]/, "[.]", base)
			print nl + 0, nc + 0, base
		}
	' "$ctl/edit" "$ctl/derive" "$b/$files") || fail "BASE: cannot read the file manifest of $base"
	# shellcheck disable=SC2086 # three words: linked, copied, the base id as a regex
	set -- $counts
	# shellcheck disable=SC2034 # receive.sh answers with them
	linked=$1 copied=$2
	# The folders first: unpack's tar makes them too, meanwhile (both
	# take one that is there), and cp --parents would fail on one made
	# between its look and its mkdir.
	(cd "$tmp" && xargs -d '\n' -r mkdir -p -- < "$ctl/dirs") 2>"$ctl.err" || fail "cannot make the folders of $tmp: $(head -c 300 "$ctl.err")"
	(cd "$b" && xargs -d '\n' -r cp -l --parents -t "$tmp" -- < "$ctl/link") 2>"$ctl.err" || fail "BASE: cannot hard-link the files of $base: $(head -c 300 "$ctl.err")"
	(cd "$b" && xargs -d '\n' -r cp -p --parents -t "$tmp" -- < "$ctl/copy") 2>"$ctl.err" || fail "BASE: cannot copy the files of $base: $(head -c 300 "$ctl.err")"
	(cd "$tmp" && xargs -d '\n' -r sed -i "s/$3/$id/g" -- < "$ctl/derive.paths") 2>"$ctl.err" || fail "BASE: cannot make files from those of $base: $(head -c 300 "$ctl.err")"
	for m in "$ctl"/mode.*; do
		[ -f "$m" ] || continue
		(cd "$tmp" && xargs -d '\n' -r chmod "${m##*/mode.}" -- < "$m") 2>"$ctl.err" || fail "BASE: cannot make files from those of $base: $(head -c 300 "$ctl.err")"
	done
}
