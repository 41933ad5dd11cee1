package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

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
	// Base is what a delta would be assembled from (PreflightDelta); nil
	// when the host holds none, or the release itself, or BaseErr says
	// why it could not be read (a delta is an optimisation: the host
	// then gets the whole artifact, the preflight does not fail).
	Base    *Base
	BaseErr error
}

// SharedError is shared entries a host lacks (or has of the other kind):
// a file is never invented, the user puts it there.
type SharedError struct {
	Host string
	// Paths are where the entries belong on the host, Problems what is
	// wrong with each ("missing", "not a folder").
	Paths, Problems []string
}

func (e *SharedError) Error() string {
	msgs := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		fix := "create"
		if e.Problems[i] != "missing" {
			fix = "fix"
		}
		msgs[i] = fmt.Sprintf("shared %s on %s: %s: %s %s on %s", p, e.Host, e.Problems[i], fix, p, e.Host)
	}
	return strings.Join(msgs, "; ") + " (every release links it from there; the app's runtime secrets go there: mode 0600, owned by the deploy login)"
}

// ErrorHost names the host (for the Face's --json).
func (e *SharedError) ErrorHost() string { return e.Host }

// ConflictError is a release id the host already holds with other content:
// releases are immutable, so it is refused.
type ConflictError struct {
	Host, ID, Have, Want string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s already holds release %s with sha256 %s, not %s: releases are immutable; use a new release id", e.Host, e.ID, e.Have, e.Want)
}

// ErrorHost names the host that holds the other release (for the Face's
// --json).
func (e *ConflictError) ErrorHost() string { return e.Host }

// Preflight checks a host before any byte of a delivery moves: the layout
// can be made and written, tar, sha256sum and the decompressor are there,
// and it says how much disk is free and whether the release is already
// there. Uploads abandoned for longer than staleAfter are removed (as
// CleanStale does). The shared folder is made when missing, and so is a
// shared folder entry; a shared file that is not there is a
// *SharedError.
func (l Layout) Preflight(ctx context.Context, h remote.Host, id string, format Format, staleAfter time.Duration, shared []string) (*Readiness, error) {
	return l.preflight(ctx, h, id, format, staleAfter, shared, "")
}

// PreflightDelta is Preflight that also finds, in the same round trip,
// the base a delta of the release would be assembled from and its
// listing (Readiness.Base).
func (l Layout) PreflightDelta(ctx context.Context, h remote.Host, id string, format Format, staleAfter time.Duration, shared []string) (*Readiness, error) {
	return l.preflight(ctx, h, id, format, staleAfter, shared, strconv.Itoa(shortHash))
}

func (l Layout) preflight(ctx context.Context, h remote.Host, id string, format Format, staleAfter time.Duration, shared []string, short string) (*Readiness, error) {
	if err := format.Valid(); err != nil {
		return nil, err
	}
	if err := CheckSharedList(shared); err != nil {
		return nil, err
	}
	args := append([]string{id, format.Tool(), seconds(staleAfter), short}, shared...)
	out, err := l.run(ctx, h, "preflight", preflightScript, args...)
	if err != nil {
		return nil, err
	}
	r := &Readiness{}
	lacks := &SharedError{Host: h.Name()}
	for len(out) > 0 {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		k, v, _ := strings.Cut(string(line), "\t")
		switch k {
		case "CLEANED":
			r.Cleaned, err = strconv.Atoi(v)
		case "FREE":
			var kb int64
			kb, err = strconv.ParseInt(v, 10, 64)
			r.FreeBytes = kb * 1024
		case "HAVE":
			r.Existing, err = decodeManifest(v)
		case "SHARED":
			entry, why, _ := strings.Cut(v, "\t")
			lacks.Paths = append(lacks.Paths, l.SharedPath(entry))
			lacks.Problems = append(lacks.Problems, why)
		case "NONE", "BASE": // delta_base's answer (base.sh), last
			r.Base, r.BaseErr = parseBase(out, h.Name())
			rest = nil
		}
		if err != nil {
			return nil, fmt.Errorf("preflight on %s: bad answer %q: %w", h.Name(), line, err)
		}
		out = rest
	}
	if len(lacks.Paths) > 0 {
		return nil, lacks
	}
	return r, nil
}

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
	// FilesGzip is Files as the envelope carries it (GzipFiles), when
	// the caller made it once for the uploads of a release to many
	// hosts; nil: this upload makes its own. Compressing a manifest of
	// 14,000 files costs the runner a third of a second, per host.
	FilesGzip []byte
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

// Receive streams an upload into a new release on the host (receive.sh),
// in an incoming folder leased while it runs, so no cleanup takes it away.
// The upload is a tar envelope (writeEnvelope) that the host reads in one
// pass: its small members into a control folder beside the tree, its
// payload never stored but streamed at once through sha256sum and into
// the tar that unpacks it, its checksum checked when the last byte is
// unpacked. A delta then takes every unchanged file from its base.
// Whatever the way, the tree is verified against the file manifest (every
// path's type, mode, size and link target; the contents of the files new
// on the host, receive-verify.sh) before the manifests are written (last)
// and the rename makes the release visible under its name; a failure
// removes it all. "BASE:" and "VERIFY:" in an error tell a delta that went
// wrong on this host's files.
// The shared entries of the manifest are linked in after the check, in
// place of what the artifact has there (shared.go).
func (l Layout) Receive(ctx context.Context, h remote.Host, u Upload) (*Received, error) {
	m := u.Manifest
	if err := ValidID(m.ID); err != nil {
		return nil, err
	}
	if err := CheckSharedList(m.Shared); err != nil {
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
	args := append([]string{mode, m.ID, u.PayloadSHA256, u.Format.Tool(), want, m.AppDir, u.Base, string(mj),
		envPayload, envFiles, envEdit, envDerive}, sharedLinks(m.AppDir, m.Shared)...)
	c := l.cmd(receiveScript, args...)
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

// writeEnvelope writes the tar the receive script reads: the file manifest
// (gzip'd) or the edit and derive list, then the payload, last, so the
// host streams it through as it comes.
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
	addBytes := func(name string, b []byte) error { return add(name, int64(len(b)), bytes.NewReader(b)) }
	switch {
	case u.Base != "":
		if err := addBytes(envEdit, gzipBytes(u.Edit)); err != nil {
			return err
		}
		if err := addBytes(envDerive, gzipBytes(u.Derive)); err != nil {
			return err
		}
	case u.Files != nil:
		gz := u.FilesGzip
		if gz == nil {
			gz = GzipFiles(u.Files)
		}
		if err := addBytes(envFiles, gz); err != nil {
			return err
		}
	}
	if err := add(envPayload, u.PayloadBytes, u.Payload); err != nil {
		return err
	}
	return tw.Close()
}

// GzipFiles is the file manifest as an upload's envelope carries it
// (Upload.FilesGzip).
func GzipFiles(f Files) []byte { return gzipBytes(f.Marshal()) }

func gzipBytes(b []byte) []byte {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(b)
	zw.Close() // writes to a bytes.Buffer never fail
	return z.Bytes()
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
