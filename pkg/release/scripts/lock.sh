# lock.sh takes the deploy lock with the holder's info $1, stored as the
# file $2 in the lock beside the file $3, the server's time of taking it
# (date +%s: a lock's age is the server's alone, whatever the clocks of
# the runners). The lock is a directory made complete under a temporary
# name, then renamed into place: rename(2) onto an existing, non-empty
# lock fails, so exactly one client wins and the lock never exists
# without its holder's info. With $4, the sha256 of the info of a lock
# judged stale, that lock is broken first (aside, lock-aside.sh), and
# only that one. Answers ACQUIRED, or HELD with the server's time, the
# lock's time, the sha256 of its info and the info (base64).
: "${root:?}" "${state:?}" "${lock:?}" # from prelude.sh
info=$1 name=$2 since=$3 stale=$4
d="$root/$state"
mkdir -p "$d"
if [ -n "$stale" ] && aside "$stale" broken; then
	rm -rf "${moved:?}"
fi
tmp="$d/$lock.tmp.$$"
# held answers HELD when it read the lock whole: the same info before and
# after its time (a lock of a version that wrote no time: its info's
# mtime, also the server's clock).
held() {
	sum=$(sha256sum 2>/dev/null < "$d/$lock/$name" | cut -c1-64)
	t=$(cat "$d/$lock/$since" 2>/dev/null || stat -c %Y "$d/$lock/$name" 2>/dev/null || true)
	b64=$(base64 -w0 2>/dev/null < "$d/$lock/$name" || true)
	[ -n "$sum" ] && [ "$sum" = "$(sha256sum 2>/dev/null < "$d/$lock/$name" | cut -c1-64)" ] || return 1
	printf 'HELD\t%s\t%s\t%s\t%s\n' "$(date +%s)" "$t" "$sum" "$b64"
}
# Again while the lock seen held changes before it is read.
for _ in 1 2 3; do
	rm -rf "$tmp"
	mkdir "$tmp"
	printf '%s\n' "$info" > "$tmp/$name"
	date +%s > "$tmp/$since"
	if mv -T "$tmp" "$d/$lock" 2>/dev/null; then
		echo ACQUIRED
		exit 0
	fi
	rm -rf "$tmp"
	held && exit 0
done
# Held, but never read whole: a holder no one can judge.
printf 'HELD\t%s\t\t\t\n' "$(date +%s)"
