package archive

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/mholt/archiver/v4"

	"github.com/org/next-deploy/pkg/tarball"
)

// collect lists the entries of the tree at src in the order they are
// written: filepath.WalkDir visits each directory's names sorted, so the
// order depends on the names alone. Build caches are left out and
// returned as excluded.
func collect(src string, mtime time.Time) (files []archiver.FileInfo, excluded []string, err error) {
	if err := statSource(src); err != nil {
		return nil, nil, fmt.Errorf("pack %s: %w", src, err)
	}
	v := tarball.NewRules()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && isBuildCache(rel) {
			excluded = append(excluded, rel)
			return filepath.SkipDir
		}
		f, err := diskEntry(p, rel, mtime)
		if err != nil {
			return err
		}
		// tarball's rules, applied now: pack refuses what deliver would.
		h, err := tar.FileInfoHeader(f.FileInfo, f.LinkTarget)
		if err != nil {
			return err
		}
		h.Name = f.NameInArchive
		if _, err := v.Add(h); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pack %s: %w", src, err)
	}
	return files, excluded, nil
}

// isBuildCache says whether a directory is a build cache: .next/cache
// (webpack's and Turbopack's caches, fetch cache, optimized images) at
// any depth. It can be bigger than the app and a server never reads it.
func isBuildCache(rel string) bool {
	return path.Base(rel) == "cache" && path.Base(path.Dir(rel)) == ".next"
}

// diskEntry makes the archive entry of one file on disk, with nothing of
// the disk in it but the name, the type, the permission bits, the size
// and (for symlinks) the target.
func diskEntry(p, rel string, mtime time.Time) (archiver.FileInfo, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return archiver.FileInfo{}, err
	}
	info := entryInfo{name: path.Base(rel), mode: fi.Mode().Type() | fi.Mode().Perm(), mtime: mtime}
	f := archiver.FileInfo{NameInArchive: rel}
	switch mode := fi.Mode(); {
	case mode.IsDir():
		f.NameInArchive += "/"
	case mode&fs.ModeSymlink != 0:
		if f.LinkTarget, err = os.Readlink(p); err != nil {
			return archiver.FileInfo{}, err
		}
	case mode.IsRegular():
		info.size = fi.Size()
		f.Open = func() (fs.File, error) { return os.Open(p) }
	default:
		return archiver.FileInfo{}, fmt.Errorf("%s is a %s: a release holds files, directories and symlinks only", p, mode.Type())
	}
	f.FileInfo = info
	return f, nil
}

// entryInfo is an fs.FileInfo without owners or times of its own: what
// archive/tar's FileInfoHeader copies from it is reproducible. Sys is nil,
// so no uid, gid or user name from the runner gets in.
type entryInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (e entryInfo) Name() string       { return e.name }
func (e entryInfo) Size() int64        { return e.size }
func (e entryInfo) Mode() fs.FileMode  { return e.mode }
func (e entryInfo) ModTime() time.Time { return e.mtime }
func (e entryInfo) IsDir() bool        { return e.mode.IsDir() }
func (e entryInfo) Sys() any           { return nil }
