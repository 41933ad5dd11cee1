# preflight.sh checks a host before any byte of a delivery moves: the
# layout can be made and written, the tools are there. It removes uploads
# abandoned for more than $3 seconds (clean_incoming, lease.sh) and
# answers CLEANED (how many), FREE (KiB free under releases/) and, when
# release $1 is there, HAVE with its manifest (base64); else, when $4
# is not empty, the base a delta of release $1 would be assembled from
# and its listing (delta_base, base.sh), last: one round trip for both.
# $2 is the decompressor the artifact needs. $5... are the shared entries (a
# trailing / for a folder, shared.go): the shared folder is made when
# missing, and so is an entry's folder (it starts empty, as uploads/
# does); a file must be there, readable, and each entry of its kind,
# else SHARED answers the entry and what is wrong with it.
: "${root:?}" "${releases:?}" "${state:?}" "${manifest:?}" "${shared:?}" # from prelude.sh
id=$1 tool=$2 stale=$3 short=$4
shift 4
# One mkdir for the three folders (a process costs milliseconds on a busy
# host); on failure, the message names the first one missing.
if ! mkdir -p "$root/$releases" "$root/$state" "$root/$shared" 2>/dev/null; then
	if [ ! -d "$root/$releases" ] || [ ! -d "$root/$state" ]; then
		fail "cannot create $root/$releases as $(id -un): create the deploy path and give it to this login"
	fi
	fail "cannot create $root/$shared as $(id -un): create it and give it to this login"
fi
[ -w "$root/$releases" ] || fail "$root/$releases is not writable by $(id -un)"
command -v tar >/dev/null 2>&1 || fail "tar is not installed: install it (apt-get install tar)"
# An upload is unpacked (receive-unpack.sh) with GNU tar's --to-command
# through tee -p and a fifo: busybox tar or tee would fail mid-upload.
case $(tar --version 2>/dev/null) in
*"GNU tar"*) ;;
*) fail "tar is not GNU tar ($(tar --version 2>&1 | head -n 1)): an upload is unpacked with GNU tar's --to-command; install it (apt-get install tar)" ;;
esac
: | tee -p >/dev/null 2>&1 || fail "tee has no -p (coreutils 8.24 or later needed): install coreutils"
command -v mkfifo >/dev/null 2>&1 || fail "mkfifo is not installed: install coreutils"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed: install coreutils"
for t in awk gzip find xargs cmp; do
	command -v "$t" >/dev/null 2>&1 || fail "$t is not installed: a delivered tree is verified with it; install it (apt-get install gawk gzip findutils diffutils)"
done
command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed: install it (apt-get install $tool), or pack with another --format"
for e in "$@"; do
	p=$root/$shared/${e%/}
	case $e in
	*/)
		if [ ! -e "$p" ] && [ ! -L "$p" ] && ! mkdir -p "$p" 2>/dev/null; then
			printf 'SHARED\t%s\t%s\n' "$e" "missing, and $(id -un) cannot create it"
		elif [ ! -d "$p" ]; then
			printf 'SHARED\t%s\t%s\n' "$e" "not a folder"
		fi
		;;
	*)
		if [ ! -e "$p" ]; then
			printf 'SHARED\t%s\t%s\n' "$e" missing
		elif [ ! -f "$p" ]; then
			printf 'SHARED\t%s\t%s\n' "$e" "not a file (a folder is written with a trailing /)"
		elif [ ! -r "$p" ]; then
			printf 'SHARED\t%s\t%s\n' "$e" "not readable by $(id -un)"
		fi
		;;
	esac
done
cleaned=$(clean_incoming "$stale")
printf 'CLEANED\t%s\n' "$cleaned"
printf 'FREE\t%s\n' "$(df -Pk "$root/$releases" | awk 'END { print $4 }')"
if [ -e "$root/$releases/$id" ]; then
	if [ -f "$root/$releases/$id/$manifest" ]; then
		printf 'HAVE\t%s\n' "$(base64 -w0 < "$root/$releases/$id/$manifest")"
	else
		fail "$root/$releases/$id exists but has no manifest: it was not made by next-deploy; move it away"
	fi
elif [ -n "$short" ]; then
	# A base that cannot be listed is no reason to stop: the answer is
	# then cut short, and the host gets the whole artifact.
	delta_base "$id" "$short" || true
fi
