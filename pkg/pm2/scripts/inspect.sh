# inspect.sh answers ROOT (the deploy root, ~ expanded), REAL (the same
# with symlinks resolved), SUM <sha256> <file> for each of the files $5...
# (relative to the root) that exists, and NOECO when the ecosystem file $1
# does not exist, else ECO: what it defines as JSON, printed by the node
# program $2 (inspect.cjs) for the pm2 environment of the prelude. "--"
# ends node's options: an ecosystem path starting with "-" is an
# argument, never an option.
#
# An ecosystem next-deploy wrote and nobody edited since (its first line
# starts with the marker $3, then names the sha256 of the rest) reads
# nothing but itself: its answer depends only on its content, the pm2
# environment, the directory, HOME and inspect.cjs. That answer is kept in
# the file $4 under a key made of all of them, and given again while the
# key is the same, without starting node (issue 15 item 3). A
# hand-written or edited file is always read by node.
: "${root:?}" "${env?}" # from prelude.sh
eco=$1 js=$2 marker=$3 cache=$4
shift 4
printf 'ROOT\t%s\n' "$root"
printf 'REAL\t%s\n' "$(pwd -P)"
for f in "$@"; do
	[ -f "$f" ] || continue
	sum=$(sha256sum < "$f")
	printf 'SUM\t%s\t%s\n' "${sum%% *}" "$f"
done
if [ ! -f "$eco" ]; then
	echo NOECO
	exit 0
fi
key=
first=$(head -n 1 < "$eco")
case $first in
"${marker}sha256="*)
	want=${first#"${marker}sha256="}
	body=$(tail -n +2 < "$eco" | sha256sum)
	if [ "${body%% *}" = "${want%% *}" ]; then
		key=$({ printf '%s\n' "$env" "$HOME" "$(pwd -P)" "$js"; cat < "$eco"; } | sha256sum)
		key=${key%% *}
	fi
	;;
esac
if [ -n "$key" ] && [ -f "$cache" ] && [ "$(head -n 1 "$cache")" = "$key" ]; then
	printf 'ECO\t%s\n' "$(tail -n +2 "$cache")"
	exit 0
fi
out=$(node -e "$js" -- "$eco" "$env") || fail "cannot load the ecosystem file $eco in $root: see the error above"
if [ -n "$key" ]; then
	# Kept for the next inspect; a cache that cannot be written is none.
	tmp=$cache.tmp.$$
	if ! { [ -d "$(dirname "$cache")" ] && printf '%s\n%s\n' "$key" "$out" > "$tmp" && mv -f "$tmp" "$cache"; } 2>/dev/null; then
		rm -f "$tmp"
	fi
fi
printf 'ECO\t%s\n' "$out"
