# clean.sh removes uploads (.incoming-*) abandoned for more than $1
# seconds (clean_incoming, lease.sh) and removals cut short (.removing-*);
# it prints how many.
: "${root:?}" "${releases:?}" "${removing:?}" # from prelude.sh
n=$(clean_incoming "$1")
for d in "$root/$releases/$removing"*; do
	[ -e "$d" ] || continue
	rm -rf "$d" && n=$((n + 1))
done
echo "$n"
