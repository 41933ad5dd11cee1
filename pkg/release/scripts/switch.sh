# switch.sh points current at release $1: a temporary relative symlink
# renamed over current, so a reader always resolves either the old or the
# new release, never nothing.
: "${root:?}" "${releases:?}" "${current:?}" "${manifest:?}" # from prelude.sh
id=$1
[ -d "$root/$releases/$id" ] || fail "release $id is not on this host (no $root/$releases/$id)"
[ -f "$root/$releases/$id/$manifest" ] || fail "release $id is incomplete (no manifest): deliver it again"
if [ -e "$root/$current" ] && [ ! -L "$root/$current" ]; then
	fail "$root/$current exists and is not a symlink"
fi
tmp="$root/.$current.tmp.$$"
rm -f "$tmp"
ln -s "$releases/$id" "$tmp"
# rename(2) replaces the old link in one step: current never goes missing.
mv -T "$tmp" "$root/$current" || { rm -f "$tmp"; fail "cannot switch $root/$current"; }
