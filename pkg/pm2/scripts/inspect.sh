# inspect.sh answers ROOT (the deploy root, ~ expanded), REAL (the same
# with symlinks resolved), SUM <sha256> <file> for each of the files $3...
# (relative to the root) that exists, and NOECO when the ecosystem file $1
# does not exist, else ECO: what it defines as JSON, printed by the node
# program $2 (inspect.cjs) for the pm2 environment of the prelude. "--"
# ends node's options: an ecosystem path starting with "-" is an
# argument, never an option.
: "${root:?}" "${env?}" # from prelude.sh
eco=$1 js=$2
shift 2
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
out=$(node -e "$js" -- "$eco" "$env") || fail "cannot load the ecosystem file $eco in $root: see the error above"
printf 'ECO\t%s\n' "$out"
