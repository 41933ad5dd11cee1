# clean.sh removes uploads (.incoming-*) abandoned for more than $1
# minutes and removals cut short (.removing-*); it prints how many.
: "${root:?}" "${releases:?}" "${incoming:?}" "${removing:?}" # from prelude.sh
n=0
for d in "$root/$releases/$incoming"* "$root/$releases/$removing"*; do
	[ -e "$d" ] || continue
	case ${d##*/} in
	"$incoming"*) [ -n "$(find "$d" -maxdepth 0 -mmin +"$1")" ] || continue ;;
	esac
	rm -rf "$d" && n=$((n + 1))
done
echo "$n"
