# unlock.sh removes the deploy lock only when it is ours: its info (the
# file $3 in it) has the sha256 $2 of what we wrote. It is set aside
# first, then checked (lock-aside.sh): a client never removes a lock it
# does not hold, even one taken the instant before. $1 is our token, for
# the message.
: "${root:?}" "${state:?}" "${lock:?}" # from prelude.sh
# shellcheck disable=SC2034 # name is for aside
token=$1 sum=$2 name=$3
d="$root/$state"
[ -d "$d/$lock" ] || exit 0
aside "$sum" released || fail "the lock is no longer ours (token $token): someone broke it"
rm -rf "${moved:?}"
