# receive.sh makes a new release from an upload on stdin (Layout.Receive):
# unpack (receive-unpack.sh: checksum and unpack in one pass, in the
# background), for a delta plan meanwhile and assemble the rest from
# the base after (receive-assemble.sh), verify the tree
# against the file manifest (receive-verify.sh: metadata of every path,
# contents only of the files new on this host), link the shared entries
# (receive-shared.sh), write the manifests (last; the file manifest's
# mtime marks when the tree was verified: a later delta trusts the files
# of this release not newer than it) and rename the tree to the
# release's name. It works
# in an incoming folder of its own, leased while it runs (lease.sh): the
# tree ($tmp), the control folder ($ctl), the lease and its heartbeat.
# Any failure removes the incoming folder. Answers DELIVERED with the
# files linked and copied from a base, or HAVE with the manifest (base64)
# of the same id delivered meanwhile.
# Arguments: $1 mode (full or delta), $2 id, $3 payload sha256, $4 decompressor (Format.Tool),
# $5 sha256 of the file manifest ("" for none), $6 app dir, $7 base
# release, $8 release.json; $9... the envelope's members (writeEnvelope):
# the payload, the gzip'd file manifest, the gzip'd edit and derive list;
# $13... the shared entries, in pairs: the path in the release, the link's
# target.
: "${root:?}" "${releases:?}" "${state:?}" "${manifest:?}" "${files:?}" "${incoming:?}" # from prelude.sh
mode=$1 id=$2 sha=$3 tool=$4 want=$5 app=$6 base=$7 json=$8
payload=$9 files_gz=${10} edit_gz=${11} derive_gz=${12}
shift 12
umask 022
export LC_ALL=C
rel=$root/$releases
inc=$(mktemp -d "$rel/$incoming$id-XXXXXX")
trap 'lease_end; unpack_abandon; rm -rf "$inc"' EXIT
trap 'exit 1' HUP INT TERM PIPE
lease_take "$inc"
tmp=$inc/tree ctl=$inc/ctl
mkdir "$tmp" "$ctl"
shared_paths "$@" > "$ctl/shared"
unpack_start "$tool" "$payload"
linked=0 copied=0 ref=
# A delta plans while the payload is still coming.
if [ "$mode" = delta ] && unpack_ready; then
	assemble_plan "$base" "$app" "$edit_gz" "$derive_gz"
fi
unpack_wait "$sha"
if [ "$mode" = delta ]; then
	ref=$rel/$base/$files
	assemble "$base" "$id"
fi
if [ "$mode" != delta ] && [ -n "$want" ]; then
	gzip -dc < "$ctl/$files_gz" > "$ctl/files"
fi
mkdir -p "$tmp/$state"
if [ -n "$want" ]; then
	verify "$want" "$ref"
	mv "$ctl/files" "$tmp/$files"
	touch "$tmp/$files"
fi
link_shared "$@"
printf '%s\n' "$json" > "$tmp/$manifest"
if mv -T "$tmp" "$rel/$id" 2>/dev/null; then
	printf 'DELIVERED\t%s\t%s\n' "$linked" "$copied"
	exit 0
fi
# Someone delivered the same id meanwhile: fine if it is the same artifact.
if [ -f "$rel/$id/$manifest" ]; then
	printf 'HAVE\t%s\n' "$(base64 -w0 < "$rel/$id/$manifest")"
	exit 0
fi
fail "cannot rename $tmp to $rel/$id"
