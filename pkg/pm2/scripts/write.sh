# write.sh writes stdin to $root/$1 atomically: into a temporary file
# next to it, checked against the sha256 $3 (a cut connection ends stdin
# early, and a short file must never take the name), then renamed. With
# $2 = create an existing file is kept. Answers WROTE or KEPT.
: "${root:?}" # from prelude.sh
f=$root/$1 mode=$2 sum=$3
mkdir -p "$(dirname "$f")"
if [ "$mode" = create ] && [ -e "$f" ]; then
	echo KEPT
	exit 0
fi
tmp="$f.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
got=$(sha256sum < "$tmp")
got=${got%% *}
[ "$got" = "$sum" ] || fail "writing $f: got content with sha256 $got, want $sum (the connection was cut?): nothing was changed"
chmod 644 "$tmp"
mv -f "$tmp" "$f"
echo WROTE
