# state.sh lists what the host holds, one line each, a tag then
# tab-separated fields: N (no deploy root), C current's target,
# I an upload, R a release with its size (KiB) and mtime, M its manifest,
# H a history line. Manifests and history lines travel base64-encoded, so
# no content can break a line.
: "${root:?}" "${releases:?}" "${current:?}" "${state:?}" "${manifest:?}" "${history:?}" "${incoming:?}" # from prelude.sh
cd "$root" 2>/dev/null || { echo "N"; exit 0; }
if [ -L "$current" ]; then printf 'C\t%s\n' "$(readlink "$current")"; fi
for d in "$releases"/* "$releases/$incoming"*; do
	[ -d "$d" ] || continue
	id=${d#"$releases"/}
	case $id in
	"$incoming"*) printf 'I\t%s\n' "$id"; continue ;;
	esac
	kb=$(du -sk "$d" | cut -f1)
	mt=$(stat -c %Y "$d")
	printf 'R\t%s\t%s\t%s\n' "$id" "$kb" "$mt"
	if [ -f "$d/$manifest" ]; then
		printf 'M\t%s\t%s\n' "$id" "$(base64 -w0 < "$d/$manifest")"
	fi
done
if [ -f "$state/$history" ]; then
	tail -n 500 "$state/$history" | while IFS= read -r line; do
		printf 'H\t%s\n' "$(printf '%s' "$line" | base64 -w0)"
	done
fi
