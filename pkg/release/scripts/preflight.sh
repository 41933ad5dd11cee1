# preflight.sh checks a host before any byte of a delivery moves: the
# layout can be made and written, the tools are there. It removes uploads
# abandoned for more than $3 seconds (clean_incoming, lease.sh) and
# answers CLEANED (how many), FREE (KiB free under releases/) and, when
# release $1 is there, HAVE with its manifest (base64). $2 is the
# decompressor the artifact needs.
: "${root:?}" "${releases:?}" "${state:?}" "${manifest:?}" # from prelude.sh
id=$1 tool=$2 stale=$3
mkdir -p "$root/$releases" "$root/$state" 2>/dev/null || fail "cannot create $root/$releases as $(id -un): create the deploy path and give it to this login"
[ -w "$root/$releases" ] || fail "$root/$releases is not writable by $(id -un)"
command -v tar >/dev/null 2>&1 || fail "tar is not installed: install it (apt-get install tar)"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed: install coreutils"
for t in awk gzip find xargs cmp; do
	command -v "$t" >/dev/null 2>&1 || fail "$t is not installed: a delivered tree is verified with it; install it (apt-get install gawk gzip findutils diffutils)"
done
command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed: install it (apt-get install $tool), or pack with another --format"
cleaned=$(clean_incoming "$stale")
printf 'CLEANED\t%s\n' "$cleaned"
printf 'FREE\t%s\n' "$(df -Pk "$root/$releases" | tail -n 1 | tr -s ' ' | cut -d' ' -f4)"
if [ -e "$root/$releases/$id" ]; then
	if [ -f "$root/$releases/$id/$manifest" ]; then
		printf 'HAVE\t%s\n' "$(base64 -w0 < "$root/$releases/$id/$manifest")"
	else
		fail "$root/$releases/$id exists but has no manifest: it was not made by next-deploy; move it away"
	fi
fi
