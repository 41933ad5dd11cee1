# lock.sh takes the deploy lock with the holder's info $1, stored as the
# file $2 in the lock. The lock is a directory made complete (with its
# info) under a temporary name, then renamed into place: rename(2) onto an
# existing, non-empty lock fails, so exactly one client wins and the lock
# never exists without its holder's info. Answers ACQUIRED, or HELD with
# the server's time and the holder's info (base64).
: "${root:?}" "${state:?}" "${lock:?}" # from prelude.sh
info=$1 name=$2
d="$root/$state"
mkdir -p "$d"
tmp="$d/$lock.tmp.$$"
rm -rf "$tmp"
mkdir "$tmp"
printf '%s\n' "$info" > "$tmp/$name"
if mv -T "$tmp" "$d/$lock" 2>/dev/null; then
	echo ACQUIRED
	exit 0
fi
rm -rf "$tmp"
printf 'HELD\t%s\t%s\n' "$(date +%s)" "$(base64 -w0 < "$d/$lock/$name" 2>/dev/null || true)"
