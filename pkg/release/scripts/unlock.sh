# unlock.sh removes the deploy lock only when its info (the file $3 in
# the lock) holds the token $1, as the field $2 (what json.Marshal wrote):
# a client never removes a lock it does not hold.
: "${root:?}" "${state:?}" "${lock:?}" # from prelude.sh
token=$1 field=$2 name=$3
d="$root/$state"
[ -d "$d/$lock" ] || exit 0
case $(cat "$d/$lock/$name" 2>/dev/null) in
*"$field"*) ;;
*) fail "the lock is no longer ours (token $token): someone broke it" ;;
esac
mv -T "$d/$lock" "$d/$lock.old.$$" && rm -rf "$d/$lock.old.$$"
