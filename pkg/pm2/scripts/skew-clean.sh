# skew-clean.sh removes the kept apps' directories <id>$2 in $1 (relative
# to the root) whose release is not one of the others ($3...): a kept app
# that died without closing its server leaves its socket.
: "${root:?}" # from prelude.sh
dir=$root/$1 suffix=$2
shift 2
[ -d "$dir" ] || exit 0
for d in "$dir"/*"$suffix"; do
	[ -d "$d" ] || continue
	id=$(basename "$d" "$suffix")
	keep=no
	for live in "$@"; do
		if [ "$live" = "$id" ]; then
			keep=yes
		fi
	done
	if [ "$keep" = no ]; then
		rm -rf "$d"
	fi
done
