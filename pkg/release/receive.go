package release

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/org/next-deploy/pkg/remote"
)

// Formats are the artifact compressions a server can unpack, with the
// program tar needs for each.
var Formats = map[string]string{
	"zst": "zstd",
	"gz":  "gzip",
	"xz":  "xz",
	"tar": "tar",
}

// Readiness is what the preflight of a delivery found on a host.
type Readiness struct {
	// FreeBytes is the free space of the file system of releases/.
	FreeBytes int64
	// Cleaned is the number of stale .incoming-* uploads removed.
	Cleaned int
	// Existing is the manifest of the release when the host already
	// holds it complete.
	Existing *Manifest
}

// ConflictError is a release id the host already holds with other content:
// releases are immutable, so it is refused.
type ConflictError struct {
	Host, ID, Have, Want string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s already holds release %s with sha256 %s, not %s: releases are immutable; use a new release id", e.Host, e.ID, e.Have, e.Want)
}

// Preflight arguments: $1 release id, $2 decompressor, $3 minutes after
// which an abandoned .incoming-* upload is removed.
const preflightScript = `
id=$1 tool=$2 stale=$3
mkdir -p "$root/releases" "$root/.next-deploy" 2>/dev/null || fail "cannot create $root/releases as $(id -un): create the deploy path and give it to this login"
[ -w "$root/releases" ] || fail "$root/releases is not writable by $(id -un)"
command -v tar >/dev/null 2>&1 || fail "tar is not installed: install it (apt-get install tar)"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed: install coreutils"
command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed: install it (apt-get install $tool), or pack with another --format"
cleaned=0
for d in "$root"/releases/.incoming-*; do
	[ -e "$d" ] || continue
	if [ -n "$(find "$d" -maxdepth 0 -mmin +"$stale")" ]; then
		rm -rf "$d" && cleaned=$((cleaned + 1))
	fi
done
printf 'CLEANED\t%s\n' "$cleaned"
printf 'FREE\t%s\n' "$(df -Pk "$root/releases" | tail -n 1 | tr -s ' ' | cut -d' ' -f4)"
if [ -e "$root/releases/$id" ]; then
	if [ -f "$root/releases/$id/.next-deploy/release.json" ]; then
		printf 'HAVE\t%s\n' "$(base64 -w0 < "$root/releases/$id/.next-deploy/release.json")"
	else
		fail "$root/releases/$id exists but has no manifest: it was not made by next-deploy; move it away"
	fi
fi
`

// Preflight checks a host before any byte of a delivery moves: the layout
// can be made and written, tar, sha256sum and the decompressor are there,
// and it says how much disk is free and whether the release is already
// there. Abandoned uploads older than staleMinutes are removed.
func (l Layout) Preflight(ctx context.Context, h remote.Host, id, format string, staleMinutes int) (*Readiness, error) {
	tool, ok := Formats[format]
	if !ok {
		return nil, fmt.Errorf("%w: archive format %q (want zst, gz or xz)", ErrInvalid, format)
	}
	out, err := l.run(ctx, h, "preflight", preflightScript, id, tool, strconv.Itoa(staleMinutes))
	if err != nil {
		return nil, err
	}
	r := &Readiness{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "\t")
		switch k {
		case "CLEANED":
			r.Cleaned, err = strconv.Atoi(v)
		case "FREE":
			var kb int64
			kb, err = strconv.ParseInt(v, 10, 64)
			r.FreeBytes = kb * 1024
		case "HAVE":
			r.Existing, err = decodeManifest(v)
		}
		if err != nil {
			return nil, fmt.Errorf("preflight on %s: bad answer %q: %w", h.Name(), sc.Text(), err)
		}
	}
	return r, nil
}

// The artifact is stored whole and its checksum checked before tar sees a
// byte of it: a damaged or tampered upload is never unpacked. The manifest
// is written last, inside the incoming folder, and only the rename makes
// the release visible under its name. Any failure (a cut connection is an
// early EOF, hence a checksum mismatch) removes the incoming folder.
// Arguments: $1 id, $2 sha256, $3 format, $4 manifest JSON.
const receiveScript = `
id=$1 sha=$2 format=$3 manifest=$4
rel="$root/releases"
tmp=$(mktemp -d "$rel/.incoming-$id-XXXXXX")
trap 'rm -rf "$tmp" "$tmp.artifact"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat > "$tmp.artifact"
got=$(sha256sum < "$tmp.artifact" | cut -d' ' -f1)
[ "$got" = "$sha" ] || fail "checksum mismatch after upload: got $got, want $sha (the upload was cut or damaged)"
case $format in
zst) tar -x --use-compress-program=zstd -f "$tmp.artifact" -C "$tmp" --no-same-owner ;;
gz) tar -x -z -f "$tmp.artifact" -C "$tmp" --no-same-owner ;;
xz) tar -x -J -f "$tmp.artifact" -C "$tmp" --no-same-owner ;;
tar) tar -x -f "$tmp.artifact" -C "$tmp" --no-same-owner ;;
*) fail "unknown format $format" ;;
esac
rm -f "$tmp.artifact"
mkdir -p "$tmp/.next-deploy"
printf '%s\n' "$manifest" > "$tmp/.next-deploy/release.json.tmp"
mv -f "$tmp/.next-deploy/release.json.tmp" "$tmp/.next-deploy/release.json"
chmod 755 "$tmp"
if mv -T "$tmp" "$rel/$id" 2>/dev/null; then
	echo DELIVERED
	exit 0
fi
# Someone delivered the same id meanwhile: fine if it is the same artifact.
if [ -f "$rel/$id/.next-deploy/release.json" ]; then
	printf 'HAVE\t%s\n' "$(base64 -w0 < "$rel/$id/.next-deploy/release.json")"
	exit 0
fi
fail "cannot rename $tmp to $rel/$id"
`

// Receive streams an artifact (stdin) into a new release on the host. It
// returns true when the release was made by this call, false when an
// identical one appeared meanwhile.
func (l Layout) Receive(ctx context.Context, h remote.Host, artifact io.Reader, m Manifest, format string) (bool, error) {
	if err := ValidID(m.ID); err != nil {
		return false, err
	}
	if _, ok := Formats[format]; !ok {
		return false, fmt.Errorf("%w: archive format %q", ErrInvalid, format)
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	c := l.cmd(receiveScript, m.ID, m.SHA256, format, string(mj))
	c.Stdin = artifact
	res, err := h.Run(ctx, c)
	if err != nil {
		return false, fmt.Errorf("receive release %s in %s on %s: %w", m.ID, l.Root, h.Name(), err)
	}
	out := strings.TrimSpace(string(res.Stdout))
	if out == "DELIVERED" {
		return true, nil
	}
	if b64, ok := strings.CutPrefix(out, "HAVE\t"); ok {
		have, err := decodeManifest(b64)
		if err != nil {
			return false, fmt.Errorf("receive release %s on %s: unreadable manifest of the existing release: %w", m.ID, h.Name(), err)
		}
		if have.SHA256 != m.SHA256 {
			return false, &ConflictError{Host: h.Name(), ID: m.ID, Have: have.SHA256, Want: m.SHA256}
		}
		return false, nil
	}
	return false, fmt.Errorf("receive release %s on %s: unexpected answer %q", m.ID, h.Name(), out)
}

// IsConflict reports whether err is a release id clash.
func IsConflict(err error) bool {
	var ce *ConflictError
	return errors.As(err, &ce)
}
