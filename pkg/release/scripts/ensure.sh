# ensure.sh creates the layout (releases/, .next-deploy/) when missing and
# checks that it is writable and that current, if any, is a symlink.
: "${root:?}" "${releases:?}" "${state:?}" "${current:?}" # from prelude.sh
mkdir -p "$root/$releases" "$root/$state" || fail "cannot create $root/$releases: check that the login owns the deploy path or its parent"
[ -w "$root/$releases" ] || fail "$root/$releases is not writable by $(id -un)"
[ -w "$root/$state" ] || fail "$root/$state is not writable by $(id -un)"
if [ -e "$root/$current" ] && [ ! -L "$root/$current" ]; then
	fail "$root/$current exists and is not a symlink: move it away, next-deploy switches current as a symlink"
fi
