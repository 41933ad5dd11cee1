package tarball

import (
	"archive/tar"
	"context"
	"fmt"
	"io"

	"github.com/org/next-deploy/pkg/release"
)

// Check reads an archive stream to its end and returns what it holds, or
// the first entry that is unsafe to extract (ErrUnsafe): an absolute path,
// a "..", an entry below a symlink, a symlink leaving the tree, a device
// file, a hard link, setuid bits, extended attributes, a name that GNU
// tar would read differently (mixed GNU and PAX headers). A damaged stream
// fails on its checksum. deliver runs it on every artifact before a
// server is touched.
func Check(ctx context.Context, r io.Reader, f release.Format) (Stats, error) {
	return walk(ctx, r, f, nil)
}

// walk decompresses an archive and validates each entry, then hands it to
// fn (when not nil) with the entry's content. It reads the tar stream with
// archive/tar itself rather than archiver's Tar.Extract, which silently
// skips PAX global headers: GNU tar applies them to later entries, so an
// archive could say one thing to the check and another to tar.
func walk(ctx context.Context, r io.Reader, f release.Format, fn func(name string, h *tar.Header, content io.Reader) error) (Stats, error) {
	rc, err := openReader(f, r)
	if err != nil {
		return Stats{}, err
	}
	defer rc.Close()
	// The log sees the raw header blocks archive/tar reads and hides
	// (oneReading).
	var log headerLog
	tr := tar.NewReader(io.TeeReader(rc, &log))
	v := NewRules()
	for {
		if err := ctx.Err(); err != nil {
			return Stats{}, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Stats{}, fmt.Errorf("read archive after %d entries: %w", v.stats.Entries, err)
		}
		raw, traced := log.take()
		name, err := v.addRead(h, raw, traced)
		if err != nil {
			return Stats{}, err
		}
		log.expect(h)
		if name == "" || fn == nil {
			continue
		}
		if err := fn(name, h, tr); err != nil {
			return Stats{}, err
		}
	}
	// The rest of the stream holds the compressor's checksum: read it, so
	// a corrupted or truncated artifact fails here.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return Stats{}, fmt.Errorf("read archive end: %w", err)
	}
	return v.Stats(), nil
}
