# receive-shared.sh: the shared entries of a release (shared.go), given
# to receive.sh as pairs of arguments: the path in the release, and the
# target of its link into the shared folder.
#  - shared_paths answers the paths, one a line, for $ctl/shared.
#  - unshared filters tab-separated lines whose field $1 is a path,
#    leaving out the paths of $ctl/shared and everything under them:
#    what the artifact holds there is never the release's, so assemble
#    takes none of it from the base and verify checks none of it.
#  - link_shared puts the links into the tree $tmp, in place of what the
#    artifact had there, after verify and before the release gets its
#    name: the release appears with its links or not at all.
shared_paths() {
	while [ $# -ge 2 ]; do
		printf '%s\n' "$1"
		shift 2
	done
}
# unshared_awk is unshared for an awk program of its own: the function
# unshared(p), true when path p is not a shared one, reading the list
# from the control folder in the awk variable c.
# shellcheck disable=SC2016 # awk's, not the shell's
unshared_awk='
	function unshared(p,  i, l) {
		if (!ns_read) { while ((getline l < (c "/shared")) > 0) ns_list[++ns] = l; ns_read = 1 }
		for (i = 1; i <= ns; i++) if (p == ns_list[i] || substr(p, 1, length(ns_list[i]) + 1) == ns_list[i] "/") return 0
		return 1
	}
'
unshared() {
	: "${ctl:?}" # from receive.sh
	awk -F'\t' -v col="$1" -v c="$ctl" "$unshared_awk"'unshared($col)'
}
link_shared() {
	: "${tmp:?}" # from receive.sh
	while [ $# -ge 2 ]; do
		p=$1 to=$2
		shift 2
		rm -rf "${tmp:?}/$p"
		case $p in */*) mkdir -p "$tmp/${p%/*}" ;; esac
		ln -s "$to" "$tmp/$p" || fail "cannot link $p to $to in the release"
	done
}
