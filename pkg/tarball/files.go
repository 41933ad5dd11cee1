package tarball

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/org/next-deploy/pkg/release"
)

// FilesExt is the name of the file manifest pack writes beside an
// artifact: <release>.tar.zst.files.tsv.
const FilesExt = ".files.tsv"

// implicitDirMode is the mode a server's tar gives a directory the archive
// names only as a parent (under umask 022, which the receiving script sets).
const implicitDirMode = 0o755

// List reads an archive like Check and returns, with its stats, its file
// manifest: every entry with its type, mode, size and the sha256 of its
// content. Parents without an entry of their own are listed as
// directories of mode 755.
func List(ctx context.Context, r io.Reader, f release.Format) (release.Files, Stats, error) {
	files, st, _, err := ListHolding(ctx, r, f, Hold{})
	return files, st, err
}

// copyEntry writes an entry of the archive read as it is (its header in
// the writer's own format, a regular file's content), as Subset and
// Held.Subset write every entry they keep.
func (w *Writer) copyEntry(name string, h *tar.Header, content io.Reader) error {
	hdr := *h
	hdr.Format = tar.FormatUnknown
	if err := w.WriteHeader(&hdr); err != nil {
		return err
	}
	if regular(h) {
		if _, err := io.Copy(w, content); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// Subset writes to w, in format f at its default level, the entries of the
// archive r (also in format f) that a delta delivery sends: every
// directory and symlink (the shape of the tree, a few bytes each) and the
// regular files for which keep returns true. It returns the files written.
func Subset(ctx context.Context, r io.Reader, f release.Format, w io.Writer, keep func(name string) bool) (int, error) {
	tw, err := NewWriter(w, f, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	_, err = walk(ctx, r, f, func(name string, h *tar.Header, content io.Reader) error {
		if regular(h) && !keep(name) {
			return nil
		}
		if regular(h) {
			n++
		}
		return tw.copyEntry(name, h, content)
	})
	if err != nil {
		return 0, err
	}
	return n, tw.Close()
}

// WriteFiles writes a file manifest atomically.
func WriteFiles(path string, files release.Files) error {
	return writeFileAtomic(path, files.Marshal())
}

// ReadFiles reads a file manifest; it returns nil, nil when there is none.
func ReadFiles(path string) (release.Files, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return release.ParseFiles(b)
}

// WriteSum writes <artifact>.sha256, in sha256sum's format ("<hex>  <name>"),
// atomically, and returns its path.
func WriteSum(artifact, sum string) (string, error) {
	p := artifact + ".sha256"
	return p, writeFileAtomic(p, []byte(fmt.Sprintf("%s  %s\n", sum, filepath.Base(artifact))))
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
