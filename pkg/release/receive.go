package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/org/next-deploy/pkg/remote"
)

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
for t in awk gzip find xargs cmp; do
	command -v "$t" >/dev/null 2>&1 || fail "$t is not installed: a delivered tree is verified with it; install it (apt-get install gawk gzip findutils diffutils)"
done
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
func (l Layout) Preflight(ctx context.Context, h remote.Host, id string, format Format, staleMinutes int) (*Readiness, error) {
	if err := format.Valid(); err != nil {
		return nil, err
	}
	out, err := l.run(ctx, h, "preflight", preflightScript, id, format.Tool(), strconv.Itoa(staleMinutes))
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

// The upload is a tar envelope on stdin, read by the server's tar into a
// control folder beside the incoming one: "payload" (the artifact, or in
// a delta the changed files in the artifact's format), "files.tsv.gz" (the
// release's file manifest, full uploads) or "edit" (the manifest lines
// that differ from the base's, deltas). The payload's checksum is checked
// before tar sees a byte of it: a damaged or tampered upload is never
// unpacked. A delta then takes every unchanged file from the base release:
// hard links for what a running server never writes (node_modules/**,
// .next/static/**, public/**), real copies for the rest. Whatever the way,
// the tree is verified against the file manifest, every file's sha256 and
// every path's type and mode, before the manifests are written (last) and
// the rename makes the release visible under its name. Any failure
// removes the incoming and control folders; "BASE:" and "VERIFY:" in a
// message tell a delta that went wrong on this host's files.
// Arguments: $1 mode (full or delta), $2 id, $3 payload sha256, $4 format,
// $5 sha256 of the file manifest ("" for none), $6 app dir, $7 base
// release, $8 release.json.
const receiveScript = `
mode=$1 id=$2 sha=$3 format=$4 want=$5 app=$6 base=$7 manifest=$8
umask 022
export LC_ALL=C
rel="$root/releases"
tmp=$(mktemp -d "$rel/.incoming-$id-XXXXXX")
ctl=$tmp.ctl
trap 'rm -rf "$tmp" "$ctl" "$ctl.err"' EXIT
trap 'exit 1' HUP INT TERM PIPE
mkdir "$ctl"
tar -x -f - -C "$ctl" --no-same-owner 2>"$ctl.err" || fail "the upload was cut or damaged: $(head -c 300 "$ctl.err")"
rm -f "$ctl.err"
[ -f "$ctl/payload" ] || fail "the upload was cut: no payload"
got=$(sha256sum < "$ctl/payload" | cut -d' ' -f1)
[ "$got" = "$sha" ] || fail "checksum mismatch after upload: got $got, want $sha (the upload was cut or damaged)"
case $format in
zst) set -- --use-compress-program=zstd ;;
gz) set -- -z ;;
xz) set -- -J ;;
tar) set -- ;;
*) fail "unknown format $format" ;;
esac
tar -x "$@" -p -f "$ctl/payload" -C "$tmp" --no-same-owner
rm -f "$ctl/payload"
linked=0 copied=0
if [ "$mode" = delta ]; then
	b=$rel/$base
	[ -f "$b/.next-deploy/release.json" ] && [ -f "$b/.next-deploy/files.tsv" ] || fail "BASE: release $base is gone or incomplete"
	gzip -dc < "$ctl/edit.gz" > "$ctl/edit"
	# The new manifest: the base's lines, less those the edit removes or
	# replaces, plus the edit's own.
	awk -F'\t' 'FILENAME == ARGV[1] { del[$1] = 1; if ($2 != "-") print; next } !($1 in del)' "$ctl/edit" "$b/.next-deploy/files.tsv" | sort > "$ctl/files.tsv"
	# The base's files the edit does not touch: linked or copied.
	awk -F'\t' -v app="$app" -v L="$ctl/link" -v C="$ctl/copy" '
		function under(p, dir) { return substr(p, 1, length(dir)) == dir }
		function shared(p,  a) {
			a = (app == "" || app == ".") ? "" : app "/"
			return p ~ /(^|\/)node_modules\// || under(p, a ".next/static/") || under(p, a "public/")
		}
		FILENAME == ARGV[1] { del[$1] = 1; next }
		$2 == "f" && !($1 in del) { if (shared($1)) print $1 > L; else print $1 > C }
	' "$ctl/edit" "$b/.next-deploy/files.tsv"
	touch "$ctl/link" "$ctl/copy"
	(cd "$b" && xargs -d '\n' -r cp -l --parents -t "$tmp" -- < "$ctl/link") 2>"$ctl.err" || fail "BASE: cannot hard-link the files of $base: $(head -c 300 "$ctl.err")"
	(cd "$b" && xargs -d '\n' -r cp -p --parents -t "$tmp" -- < "$ctl/copy") 2>"$ctl.err" || fail "BASE: cannot copy the files of $base: $(head -c 300 "$ctl.err")"
	rm -f "$ctl.err"
	linked=$(wc -l < "$ctl/link") copied=$(wc -l < "$ctl/copy")
	# Files of the base with its id replaced by the new one (Derive):
	# one cp, one sed and one chmod per mode for all of them; a process
	# per file costs seconds on a busy host.
	old=$(printf '%s' "$base" | sed 's/[.]/[.]/g')
	gzip -dc < "$ctl/derive.gz" > "$ctl/derive"
	cut -f2- "$ctl/derive" > "$ctl/derive.paths"
	ok=
	(cd "$b" && xargs -d '\n' -r cp --parents -t "$tmp" -- < "$ctl/derive.paths") 2>"$ctl.err" &&
		(cd "$tmp" && xargs -d '\n' -r sed -i "s/$old/$id/g" -- < "$ctl/derive.paths") 2>>"$ctl.err" && ok=1
	for m in $(cut -f1 "$ctl/derive" | sort -u); do
		awk -F'\t' -v m="$m" '$1 == m { print substr($0, length(m) + 2) }' "$ctl/derive" |
			(cd "$tmp" && xargs -d '\n' -r chmod "$m" --) 2>>"$ctl.err" || ok=
	done
	[ -n "$ok" ] || fail "BASE: cannot make files from those of $base: $(head -c 300 "$ctl.err")"
	rm -f "$ctl.err"
elif [ -n "$want" ]; then
	gzip -dc < "$ctl/files.tsv.gz" > "$ctl/files.tsv"
fi
if [ -n "$want" ]; then
	got=$(sha256sum < "$ctl/files.tsv" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "VERIFY: the assembled file manifest has sha256 $got, want $want"
	cd "$tmp"
	if ! awk -F'\t' '$2 == "f" { print $5 "  " $1 }' "$ctl/files.tsv" | sha256sum -c --quiet --strict - > "$ctl/bad" 2>&1; then
		grep -v '^sha256sum: WARNING' "$ctl/bad" > "$ctl/bad.1" || true
		fail "VERIFY: $(grep -c . "$ctl/bad.1") files differ from the manifest: $(head -n 3 "$ctl/bad.1" | tr '\n' ' ')"
	fi
	find . -mindepth 1 -path ./.next-deploy -prune -o -printf '%P\t%y\t%m\t%s\t%l\n' |
		awk -F'\t' -v OFS='\t' '{ if ($2 != "f") $4 = 0; if ($2 != "l") $5 = ""; print }' | sort > "$ctl/have"
	awk -F'\t' -v OFS='\t' '{ if ($2 != "l") $5 = ""; print }' "$ctl/files.tsv" > "$ctl/want"
	cmp -s "$ctl/want" "$ctl/have" || fail "VERIFY: the tree differs from the manifest (< manifest, > tree): $(diff "$ctl/want" "$ctl/have" | grep '^[<>]' | head -n 3 | tr '\n' ' ')"
	cd /
	mkdir -p "$tmp/.next-deploy"
	mv "$ctl/files.tsv" "$tmp/.next-deploy/files.tsv"
fi
mkdir -p "$tmp/.next-deploy"
printf '%s\n' "$manifest" > "$tmp/.next-deploy/release.json.tmp"
mv -f "$tmp/.next-deploy/release.json.tmp" "$tmp/.next-deploy/release.json"
chmod 755 "$tmp"
if mv -T "$tmp" "$rel/$id" 2>/dev/null; then
	printf 'DELIVERED\t%s\t%s\n' "$linked" "$copied"
	exit 0
fi
# Someone delivered the same id meanwhile: fine if it is the same artifact.
if [ -f "$rel/$id/.next-deploy/release.json" ]; then
	printf 'HAVE\t%s\n' "$(base64 -w0 < "$rel/$id/.next-deploy/release.json")"
	exit 0
fi
fail "cannot rename $tmp to $rel/$id"
`

// Upload is what one delivery sends to a host.
type Upload struct {
	// Manifest becomes the release's .next-deploy/release.json.
	Manifest Manifest
	// Format is the payload's compression.
	Format Format
	// Files is the release's file manifest: the tree is verified against
	// it and it is kept as .next-deploy/files.tsv. Without it (an
	// artifact from elsewhere) nothing is verified beyond the checksum.
	Files Files
	// Payload is the artifact, or with Base the changed files only.
	Payload       io.Reader
	PayloadBytes  int64
	PayloadSHA256 string
	// Base is the release a delta is assembled from; "" for a full upload.
	Base string
	// Edit is Files less the base's lines: lines that differ or are new,
	// and "path\t-" for paths the base has and the release has not.
	Edit []byte
	// Derive are the files the host makes from the base's by replacing
	// the base's id with the release's (Delta.Derive).
	Derive []byte
}

// Received is what a host did with an upload.
type Received struct {
	// Made is false when an identical release appeared meanwhile.
	Made bool
	// Linked and Copied are the files a delta took from its base.
	Linked, Copied int
	// Sent is the bytes written to the host, envelope and all.
	Sent int64
}

// Receive streams an upload into a new release on the host.
func (l Layout) Receive(ctx context.Context, h remote.Host, u Upload) (*Received, error) {
	m := u.Manifest
	if err := ValidID(m.ID); err != nil {
		return nil, err
	}
	if err := u.Format.Valid(); err != nil {
		return nil, err
	}
	mode, want := "full", ""
	if u.Files != nil {
		want = u.Files.SHA256()
		m.FilesSHA256 = want
	}
	if u.Base != "" {
		if err := ValidID(u.Base); err != nil {
			return nil, err
		}
		if u.Files == nil {
			return nil, fmt.Errorf("%w: a delta needs the release's file manifest", ErrInvalid)
		}
		mode, m.Base = "delta", u.Base
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	sent := &countWriter{w: pw}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeEnvelope(sent, u))
	}()
	c := l.cmd(receiveScript, mode, m.ID, u.PayloadSHA256, string(u.Format), want, m.AppDir, u.Base, string(mj))
	c.Stdin = pr
	res, err := h.Run(ctx, c)
	pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if the host stopped reading
	<-done
	got := &Received{Sent: sent.n}
	if err != nil {
		return nil, fmt.Errorf("receive release %s in %s on %s: %w", m.ID, l.Root, h.Name(), err)
	}
	out := strings.TrimSpace(string(res.Stdout))
	if rest, ok := strings.CutPrefix(out, "DELIVERED\t"); ok {
		got.Made = true
		a, b, _ := strings.Cut(rest, "\t")
		got.Linked, _ = strconv.Atoi(strings.TrimSpace(a))
		got.Copied, _ = strconv.Atoi(strings.TrimSpace(b))
		return got, nil
	}
	if b64, ok := strings.CutPrefix(out, "HAVE\t"); ok {
		have, err := decodeManifest(b64)
		if err != nil {
			return nil, fmt.Errorf("receive release %s on %s: unreadable manifest of the existing release: %w", m.ID, h.Name(), err)
		}
		if have.SHA256 != m.SHA256 {
			return nil, &ConflictError{Host: h.Name(), ID: m.ID, Have: have.SHA256, Want: m.SHA256}
		}
		return got, nil
	}
	return nil, fmt.Errorf("receive release %s on %s: unexpected answer %q", m.ID, h.Name(), out)
}

// writeEnvelope writes the tar the receive script unpacks into its control
// folder: the file manifest (gzip'd) or the edit, then the payload.
func writeEnvelope(w io.Writer, u Upload) error {
	tw := tar.NewWriter(w)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			err = fmt.Errorf("%s: %d bytes, want %d", name, n, size)
		}
		return err
	}
	switch {
	case u.Base != "":
		if err := addGzip(add, "edit.gz", u.Edit); err != nil {
			return err
		}
		if err := addGzip(add, "derive.gz", u.Derive); err != nil {
			return err
		}
	case u.Files != nil:
		if err := addGzip(add, "files.tsv.gz", u.Files.Marshal()); err != nil {
			return err
		}
	}
	if err := add("payload", u.PayloadBytes, u.Payload); err != nil {
		return err
	}
	return tw.Close()
}

func addGzip(add func(string, int64, io.Reader) error, name string, b []byte) error {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return err
	}
	return add(name, int64(z.Len()), &z)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// IsConflict reports whether err is a release id clash.
func IsConflict(err error) bool {
	var ce *ConflictError
	return errors.As(err, &ce)
}
