// Package static owns the step between next build and pack: a standalone
// build leaves public/ and .next/static out of .next/standalone (Next
// expects a CDN to serve them), so they are copied in, next to server.js,
// as exact copies (modes, symlinks) that replace whatever an earlier run
// put there.
package static

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/org/next-deploy/pkg/standalone"
)

// Result is what one copy did.
type Result struct {
	standalone.Output
	// Copied are the destinations, relative to the standalone dir.
	Copied   []string `json:"copied"`
	Files    int      `json:"files"`
	Dirs     int      `json:"dirs"`
	Links    int      `json:"symlinks"`
	Bytes    int64    `json:"bytes"`
	NoPublic bool     `json:"no_public,omitempty"`
}

// Copy copies public/ and .next/static of the app in project into its
// standalone output, next to server.js. It refuses an app without
// standalone output, or without .next/static (the build did not finish).
// Running it again gives the same tree: each destination is built beside
// the old one and swapped in.
func Copy(project string) (*Result, error) {
	out, err := standalone.Locate(project)
	if err != nil {
		return nil, err
	}
	res := &Result{Output: out}
	pairs := []struct {
		src, dst string
		required bool
	}{
		{filepath.Join(out.Project, ".next", "static"), filepath.Join(out.ServerDir(), ".next", "static"), true},
		{filepath.Join(out.Project, "public"), filepath.Join(out.ServerDir(), "public"), false},
	}
	for _, p := range pairs {
		if _, err := os.Lstat(p.src); os.IsNotExist(err) {
			if p.required {
				return nil, fmt.Errorf("%s is missing: the build of %s did not finish; run build-standalone again", p.src, out.Project)
			}
			res.NoPublic = true
			continue
		}
		if err := res.replace(p.src, p.dst); err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(out.Standalone, p.dst)
		res.Copied = append(res.Copied, filepath.ToSlash(rel))
	}
	return res, nil
}

// replace copies src to a temporary sibling of dst and swaps it in, so a
// file removed from src since the last run is gone from dst too, and an
// interrupted run leaves the old dst whole.
func (r *Result) replace(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer os.RemoveAll(tmp)
	staged := filepath.Join(tmp, "x")
	if err := r.copyTree(src, staged); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	old := filepath.Join(tmp, "old")
	if err := os.Rename(dst, old); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := os.Rename(staged, dst); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	return nil
}

// copyTree copies a tree: directories and files with their permission
// bits (whatever the umask), symlinks as symlinks with the same target.
// Anything else (sockets, devices, pipes) has no place in a web app.
func (r *Result) copyTree(src, dst string) error {
	type dirMode struct {
		path string
		info fs.FileInfo
	}
	var dirs []dirMode
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			r.Dirs++
			// Writable until the walk is done: the real mode (maybe
			// read-only) is set afterwards.
			dirs = append(dirs, dirMode{target, info})
			return os.Mkdir(target, 0o700)
		case mode&fs.ModeSymlink != 0:
			r.Links++
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case mode.IsRegular():
			r.Files++
			r.Bytes += info.Size()
			return copyFile(p, target, mode.Perm(), info)
		default:
			return fmt.Errorf("%s is a %s, not a file, directory or symlink", p, mode.Type())
		}
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := os.Chmod(d.path, d.info.Mode().Perm()); err != nil {
			return err
		}
		if err := os.Chtimes(d.path, d.info.ModTime(), d.info.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm fs.FileMode, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(dst, perm); err != nil {
		return err
	}
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}
