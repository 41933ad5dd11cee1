package tarball

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"time"

	"github.com/org/next-deploy/pkg/release"
)

// Extract unpacks an archive into dest, which must be missing or an empty
// directory. Every entry passes the rules of Check before anything of it
// is written, and all writes go through an os.Root on dest, which the
// kernel keeps from resolving outside it: the rules are the policy, the
// Root is the wall. Files and directories get the archive's permission
// bits and times; owners are the extracting user's. An archive refused
// halfway leaves dest partly written: callers extract into a temporary
// directory and rename it when Extract succeeds.
func Extract(ctx context.Context, r io.Reader, f release.Format, dest string) (Stats, error) {
	if err := emptyDir(dest); err != nil {
		return Stats{}, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return Stats{}, fmt.Errorf("extract into %s: %w", dest, err)
	}
	defer root.Close()
	type dirMode struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
	}
	var dirs []dirMode
	stats, err := walk(ctx, r, f, func(name string, h *tar.Header, content io.Reader) error {
		if err := writeEntry(root, name, h, content); err != nil {
			return fmt.Errorf("extract %s into %s: %w", name, dest, err)
		}
		if h.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirMode{name, fs.FileMode(h.Mode).Perm(), h.ModTime})
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	// Directories get their modes last: a read-only one must first take
	// its files.
	for _, d := range slices.Backward(dirs) {
		if err := root.Chmod(d.name, d.mode); err != nil {
			return Stats{}, fmt.Errorf("extract %s into %s: %w", d.name, dest, err)
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return Stats{}, fmt.Errorf("extract %s into %s: %w", d.name, dest, err)
		}
	}
	return stats, nil
}

func emptyDir(dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("extract into %s: %w", dest, err)
	}
	f, err := os.Open(dest)
	if err != nil {
		return fmt.Errorf("extract into %s: %w", dest, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("directory is not empty")
		}
		return fmt.Errorf("extract into %s: %w", dest, err)
	}
	return nil
}

func writeEntry(root *os.Root, name string, h *tar.Header, content io.Reader) error {
	if dir := path.Dir(name); dir != "." {
		// Parents without an entry of their own get tar's usual mode.
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		// Owner-writable until every entry is in; see Extract.
		if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return root.Chmod(name, 0o700)
	case tar.TypeSymlink:
		return root.Symlink(h.Linkname, name)
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, content); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := root.Chmod(name, fs.FileMode(h.Mode).Perm()); err != nil {
		return err
	}
	return root.Chtimes(name, h.ModTime, h.ModTime)
}
