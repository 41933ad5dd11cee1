# receive-verify.sh: verify checks the tree $tmp (in the incoming folder)
# against the file manifest $ctl/files before the release gets its
# name. The manifest's own sha256 must be $1. Every path (outside the
# release's state dir $state) must be there with its type, mode, size and
# link target, no path more or less: one find over the tree, metadata
# only, compared by one awk with the manifest (no sort). The shared paths
# (unshared, receive-shared.sh) are left out on both sides. A failure
# says "VERIFY:".
#
# Contents are hashed once, where they came from, never re-read after:
#  - A full upload's files are not hashed again. The manifest was made
#    from the artifact itself (deliver.Inspect hashes every member) and
#    the payload unpack took had that artifact's sha256 (unpack checks it
#    on the same pass): tar wrote those bytes, and only a short or
#    missing file (a full disk) could differ, which the size and the
#    listing catch. Re-reading the tree would prove the payload hash
#    again, at the cost of a second pass over every file.
#  - A delta's files are hashed when they are new on this host: the
#    paths listed in $ctl/hash (the files sent and those derived,
#    assemble), and the files of the tree newer than $2, the base's
#    file manifest (its mtime is when the base was verified). A file
#    linked or copied (cp -p keeps the mtime) from the base is trusted
#    as the base's manifest says: that release was verified when it
#    landed, and its lines are in $ctl/files unchanged, whose sha256 is
#    $1. A base file changed in place since has a newer mtime and is
#    hashed (TestDeltaRefusesATamperedBase).
verify() {
	: "${state:?}" # from prelude.sh
	: "${tmp:?}" "${ctl:?}" # from receive.sh
	: "${unshared_awk:?}" # from receive-shared.sh
	want=$1 ref=$2
	got=$(sha256sum < "$ctl/files")
	got=${got%% *}
	[ "$got" = "$want" ] || fail "VERIFY: the assembled file manifest has sha256 $got, want $want"
	: >> "$ctl/hash"
	: > "$ctl/newer"
	set --
	[ -z "$ref" ] || set -- -type f -newer "$ref" -fprintf "$ctl/newer" '%P\n'
	(cd "$tmp" && find . -mindepth 1 -path "./$state" -prune -o -printf '%P\t%y\t%m\t%s\t%l\n' "$@") > "$ctl/have" || fail "VERIFY: cannot list $tmp"
	# The files to hash ($ctl/sums, for sha256sum -c) and the paths that
	# differ: "< line" as the manifest has it, "> line" as the tree does.
	bad=$(awk -F'\t' -v OFS='\t' -v c="$ctl" "$unshared_awk"'
		function bad(l) { if (++nb <= 3) printf "%s ", l }
		FILENAME == ARGV[1] || FILENAME == ARGV[2] { h[$0] = 1; next }
		FILENAME == ARGV[3] {
			if (!unshared($1)) next
			if ($2 == "f" && ($1 in h)) print $5 "  " $1 > (c "/sums")
			if ($2 != "l") $5 = ""
			w[$1] = $0
			next
		}
		{
			if (!unshared($1)) next
			if ($2 != "f") $4 = 0
			if ($2 != "l") $5 = ""
			if (!($1 in w)) bad("> " $0)
			else if (w[$1] != $0) { bad("< " w[$1]); bad("> " $0) }
			delete w[$1]
		}
		END { for (p in w) bad("< " w[p]) }
	' "$ctl/hash" "$ctl/newer" "$ctl/files" "$ctl/have") || fail "VERIFY: cannot compare $tmp with the manifest"
	[ -z "$bad" ] || fail "VERIFY: the tree differs from the manifest (< manifest, > tree): $bad"
	if [ -s "$ctl/sums" ] && ! (cd "$tmp" && sha256sum -c --quiet --strict "$ctl/sums") > "$ctl/bad" 2>&1; then
		grep -v '^sha256sum: WARNING' "$ctl/bad" > "$ctl/bad.1" || true
		fail "VERIFY: $(grep -c . "$ctl/bad.1") files differ from the manifest: $(head -n 3 "$ctl/bad.1" | tr '\n' ' ')"
	fi
}
