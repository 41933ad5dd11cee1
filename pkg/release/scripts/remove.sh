# remove.sh removes releases $1...: each is renamed out of sight first
# (.removing-*), so no half-removed release is ever seen under its name.
# current is checked again here, under the lock.
: "${root:?}" "${releases:?}" "${current:?}" "${removing:?}" # from prelude.sh
cd "$root/$releases" || fail "no $root/$releases"
cur=$(readlink "$root/$current" 2>/dev/null || true)
for id; do
	case $id in ""|.*|*/*) fail "refusing to remove release $id" ;; esac
	[ "$cur" != "$releases/$id" ] || fail "release $id is current: not removed"
	[ -d "$id" ] || continue
	mv -T "$id" "$removing$id-$$"
	rm -rf "$removing$id-$$"
	printf '%s\n' "$id"
done
