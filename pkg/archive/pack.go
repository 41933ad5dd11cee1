// Package archive is the pack step: it packs a standalone tree into a
// reproducible, checksummed <release>.tar.<zst|gz|xz> with its file
// manifest beside it. What an artifact may hold and how each format is
// compressed are pkg/tarball's: pack applies tarball's rules to the tree
// before writing (so whatever it writes, deliver's tarball.Check
// accepts), writes through tarball's Writer and reads the result back with
// tarball.List before it gets its final name.
package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mholt/archiver/v4"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/standalone"
	"github.com/org/next-deploy/pkg/tarball"
)

// DefaultModTime is the time of every entry when none is given: the same
// tree must give the same bytes whenever it was built. SOURCE_DATE_EPOCH
// (the commit's time, https://reproducible-builds.org/specs/source-date-epoch/)
// is the better choice, see the CLI.
var DefaultModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options is one pack.
type Options struct {
	// Source is the tree to pack (a standalone dir, static copied in).
	Source  string
	Release string
	Format  release.Format
	// Level is the compression level; 0 is the format's default.
	Level int
	// OutputDir receives <release>.tar.<ext> and its .sha256.
	OutputDir string
	// ModTime is every entry's time; zero is DefaultModTime.
	ModTime time.Time
	// Progress, when not nil, is told when packing starts.
	Progress func(format string, a ...any)
}

// Result is a written, verified artifact.
type Result struct {
	Release    string `json:"release"`
	Artifact   string `json:"artifact"`
	SHA256File string `json:"sha256_file"`
	// FilesFile is the release's file manifest (release.Files), written
	// beside the artifact: every path, type, mode, size and sha256.
	FilesFile string         `json:"files_file"`
	SHA256    string         `json:"sha256"`
	Format    release.Format `json:"format"`
	Level     int            `json:"level"`
	Bytes     int64          `json:"bytes"`
	tarball.Stats
	// Excluded are the paths left out (build caches).
	Excluded []string      `json:"excluded"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// Pack writes <release>.tar.<ext> and <release>.tar.<ext>.sha256 (in
// sha256sum's format) into the output dir. It refuses a source that would
// not run on a server (standalone.CheckShippable). Entries are in lexical
// order, owned by 0:0 without names, all at one time, with their
// permission bits (never setuid, setgid or sticky); .next/cache is left
// out. The artifact is read back and checked before it gets its final
// name, so a name in the output dir is always a whole, valid artifact.
func Pack(ctx context.Context, o Options) (*Result, error) {
	if err := release.ValidID(o.Release); err != nil {
		return nil, err
	}
	if err := o.Format.Valid(); err != nil {
		return nil, err
	}
	if err := CheckLevel(o.Format, o.Level); err != nil {
		return nil, err
	}
	if err := standalone.CheckShippable(o.Source); err != nil {
		return nil, fmt.Errorf("pack %s: %w", o.Source, err)
	}
	if o.Progress != nil {
		o.Progress("packing %s as %s%s", o.Source, o.Release, o.Format.Ext())
	}
	start := time.Now()
	if o.ModTime.IsZero() {
		o.ModTime = DefaultModTime
	}
	files, excluded, err := collect(o.Source, o.ModTime)
	if err != nil {
		return nil, err
	}
	name := o.Release + o.Format.Ext()
	res := &Result{Release: o.Release, Format: o.Format, Level: o.Level, Excluded: append([]string{}, excluded...),
		Artifact: filepath.Join(o.OutputDir, name)}
	res.Artifact, err = filepath.Abs(res.Artifact)
	if err != nil {
		return nil, err
	}
	if res.Level == 0 {
		_, _, res.Level = Levels(o.Format)
	}
	if err := res.write(ctx, files); err != nil {
		return nil, fmt.Errorf("pack %s into %s: %w", o.Source, res.Artifact, err)
	}
	res.Duration = time.Since(start)
	res.Seconds = res.Duration.Round(time.Millisecond).Seconds()
	return res, nil
}

// write writes the artifact to a temporary file, checks it and renames it
// into place, then writes its checksum file the same way.
func (res *Result) write(ctx context.Context, files []archiver.FileInfo) error {
	dir := filepath.Dir(res.Artifact)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(res.Artifact)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	defer tmp.Close()
	out := &countingWriter{w: tmp, h: sha256.New()}
	if err := writeTar(ctx, out, res.Format, res.Level, files); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	res.SHA256, res.Bytes = hex.EncodeToString(out.h.Sum(nil)), out.n
	list, err := res.verify(ctx, tmp, len(files))
	if err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), res.Artifact); err != nil {
		return err
	}
	res.FilesFile = res.Artifact + tarball.FilesExt
	if err := tarball.WriteFiles(res.FilesFile, list); err != nil {
		return err
	}
	res.SHA256File, err = tarball.WriteSum(res.Artifact, res.SHA256)
	return err
}

// writeTar streams the tar through the format's compressor
// (tarball.Writer). The entries stay in lexical order.
func writeTar(ctx context.Context, out io.Writer, f release.Format, level int, files []archiver.FileInfo) error {
	tw, err := tarball.NewWriter(out, f, level)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := tarEntry(tw, f); err != nil {
			return err
		}
	}
	return tw.Close()
}

// tarEntry writes one entry as archiver.Tar{NumericUIDGID: true} does.
func tarEntry(tw *tarball.Writer, f archiver.FileInfo) error {
	h, err := tar.FileInfoHeader(f, f.LinkTarget)
	if err != nil {
		return fmt.Errorf("%s: %w", f.NameInArchive, err)
	}
	h.Name, h.Uname, h.Gname = f.NameInArchive, "", ""
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", f.NameInArchive, err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	if n, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("%s: %w", f.NameInArchive, err)
	} else if n != h.Size {
		return fmt.Errorf("%s: %d bytes, want %d (changed while packing)", f.NameInArchive, n, h.Size)
	}
	return nil
}

// verify reads the written artifact back: it must pass tarball's rules and hold
// every entry that was written. It returns the artifact's file manifest,
// made from what was read back.
func (res *Result) verify(ctx context.Context, f *os.File, entries int) (release.Files, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	list, st, err := tarball.List(ctx, f, res.Format)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	if st.Entries != entries {
		return nil, fmt.Errorf("read back: %d entries, want %d", st.Entries, entries)
	}
	res.Stats = st
	return list, nil
}

// countingWriter hashes and counts what reaches the file, and remembers
// the first write error.
type countingWriter struct {
	w   io.Writer
	h   hash.Hash
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

var errNotTree = errors.New("not a directory")

// statSource checks that the source is a directory.
func statSource(src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %w", src, errNotTree)
	}
	return nil
}
