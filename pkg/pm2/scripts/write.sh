# write.sh writes stdin to $root/$1 atomically (temporary file, then
# rename). With $2 = create an existing file is kept. Answers WROTE or
# KEPT.
: "${root:?}" # from prelude.sh
f=$root/$1
mkdir -p "$(dirname "$f")"
if [ "$2" = create ] && [ -e "$f" ]; then
	echo KEPT
	exit 0
fi
tmp="$f.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$f"
echo WROTE
