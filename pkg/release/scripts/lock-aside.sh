# lock-aside.sh: aside moves the deploy lock $d/$lock out of the way when
# it is the lock judged: the one whose info (the file $name in it) has the
# sha256 $1. A check, then a move, would act on whatever lock is there by
# the time of the move (two clients breaking one stale lock both held
# it), so the lock is first renamed to a name of its own ($lock.$2-*,
# made by mktemp: rename(2) is atomic, of two clients one gets it), then
# checked there; a lock that is not the judged one goes back. Sets $moved
# to where the judged lock now is; returns 1 when there is no lock, or
# another one.
aside() {
	: "${root:?}" "${lock:?}" # from prelude.sh
	: "${d:?}" "${name:?}" # from the caller
	moved=
	# Not even a move when the lock there is another one.
	[ "$(sha256sum 2>/dev/null < "$d/$lock/$name" | cut -c1-64)" = "$1" ] || return 1
	b=$(mktemp -d "$d/$lock.$2-XXXXXX")
	# rename(2) onto the empty folder mktemp made replaces it.
	if ! mv -T "$d/$lock" "$b" 2>/dev/null; then
		rmdir "$b"
		return 1
	fi
	if [ "$(sha256sum 2>/dev/null < "$b/$name" | cut -c1-64)" = "$1" ]; then
		# shellcheck disable=SC2034 # for the caller
		moved=$b
		return 0
	fi
	# Someone else's lock, taken between the check and the move: back.
	mv -T "$b" "$d/$lock" 2>/dev/null || fail "a deploy lock was taken while another one, set aside to be checked, was out of place: two deploys may hold the lock of $root; the other one is $b"
	return 1
}
