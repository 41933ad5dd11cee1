package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/tarball"
)

// tree writes a standalone-like tree: the app's files, an executable, a
// read-only directory, a pnpm layout with symlinks inside the tree, a
// build cache, a name longer than tar's 100 bytes and enough
// incompressible data for several zstd frames.
func tree(t testing.TB) string { return treeWithNoise(t, tarball.ZstdFrameSize+1<<20) }

// treeWithNoise is tree with n bytes of incompressible data: more than a
// zstd frame (tarball.ZstdFrameSize) for zstd, little for the slow xz. The
// noise is a .so, so zstd also switches levels around it (tarball's
// binaryFile).
func treeWithNoise(t testing.TB, n int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "standalone")
	long := "node_modules/" + strings.Repeat("very-long-package-name/", 6) + "index.js"
	files := map[string]string{
		"server.js":                    "require('next')",
		".next/BUILD_ID":               "r1",
		".next/static/chunks/app.js":   strings.Repeat("console.log('chunk');\n", 500),
		".next/cache/webpack/big.pack": "cache that must not ship",
		"public/robots.txt":            "User-agent: *\n",
		"node_modules/.pnpm/foo@1.0.0/node_modules/foo/index.js": "module.exports = 1",
		long: "x",
	}
	for name, body := range files {
		writeFile(t, filepath.Join(root, name), body, 0o644)
	}
	writeFile(t, filepath.Join(root, "node_modules/.bin/run"), "#!/bin/sh\necho hi\n", 0o755)
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, n)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	writeFile(t, filepath.Join(root, "node_modules/sharp/lib/libvips.so"), string(noise), 0o755)
	must(t, os.Symlink(".pnpm/foo@1.0.0/node_modules/foo", filepath.Join(root, "node_modules/foo")))
	must(t, os.Symlink("../../../foo", filepath.Join(root, "node_modules/.pnpm/foo@1.0.0/node_modules/self")))
	must(t, os.MkdirAll(filepath.Join(root, "readonly"), 0o755))
	writeFile(t, filepath.Join(root, "readonly/file"), "ro", 0o444)
	must(t, os.Chmod(filepath.Join(root, "readonly"), 0o555))
	t.Cleanup(func() { makeWritable(root) })
	return root
}

// shippable is the smallest tree Pack takes: server.js and its static
// files.
func shippable(t testing.TB) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "server.js"), "x", 0o644)
	writeFile(t, filepath.Join(root, ".next/static/chunks/a.js"), "a", 0o644)
	return root
}

func treeFor(t testing.TB, f release.Format) string {
	if f == release.Zstd {
		return tree(t)
	}
	return treeWithNoise(t, 64<<10)
}

// makeWritable lets t.TempDir's cleanup remove read-only directories when
// the tests do not run as root.
func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

func writeFile(t testing.TB, p, body string, mode fs.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), mode))
	must(t, os.Chmod(p, mode))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pack(t testing.TB, src string, f release.Format) *Result {
	t.Helper()
	res, err := Pack(context.Background(), Options{Source: src, Release: "r1", Format: f, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPackIsReproducible(t *testing.T) {
	for _, f := range []release.Format{release.Zstd, release.Gzip, release.Xz} {
		t.Run(string(f), func(t *testing.T) {
			src := treeFor(t, f)
			first := pack(t, src, f)
			// What must not matter: file times, the order files were
			// created in, the owner, and how many cores compress.
			later := time.Now().Add(time.Hour)
			filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
				os.Lchown(p, 1234, 5678)
				if d.Type()&fs.ModeSymlink == 0 {
					os.Chtimes(p, later, later)
				}
				return nil
			})
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			second := pack(t, src, f)
			if first.SHA256 != second.SHA256 || first.Bytes != second.Bytes {
				t.Errorf("two packs of one tree differ: %s (%d bytes) and %s (%d bytes)", first.SHA256, first.Bytes, second.SHA256, second.Bytes)
			}
		})
	}
}

func TestPackWritesChecksumManifestAndNothingElse(t *testing.T) {
	src := tree(t)
	res := pack(t, src, release.Zstd)
	if filepath.Base(res.Artifact) != "r1.tar.zst" {
		t.Errorf("artifact %s, want r1.tar.zst", res.Artifact)
	}
	sum, err := os.ReadFile(res.SHA256File)
	must(t, err)
	if want := res.SHA256 + "  r1.tar.zst\n"; string(sum) != want {
		t.Errorf("%s holds %q, want %q", res.SHA256File, sum, want)
	}
	if names := dirNames(t, filepath.Dir(res.Artifact)); len(names) != 3 {
		t.Errorf("output dir holds %q, want the artifact, its .sha256 and its .files.tsv only", names)
	}
	if res.FilesFile != res.Artifact+".files.tsv" {
		t.Errorf("files manifest at %s", res.FilesFile)
	}
	files, err := tarball.ReadFiles(res.FilesFile)
	must(t, err)
	checkFilesDescribeTree(t, files, src)
	if len(res.Excluded) != 1 || res.Excluded[0] != ".next/cache" {
		t.Errorf("excluded %q, want [.next/cache]", res.Excluded)
	}
	if res.Files != 9 || res.Symlinks != 2 || res.AppDir != "." {
		t.Errorf("stats %+v: want 9 files, 2 symlinks, app dir .", res.Stats)
	}
}

// TestPackRoundTrips extracts with our Extract and with the system's tar
// and compares modes, symlink targets and contents with the source.
func TestPackRoundTrips(t *testing.T) {
	for _, f := range []release.Format{release.Zstd, release.Gzip, release.Xz} {
		t.Run(string(f), func(t *testing.T) {
			src := treeFor(t, f)
			res := pack(t, src, f)
			ours := filepath.Join(t.TempDir(), "ours")
			t.Cleanup(func() { makeWritable(ours) })
			a, err := os.Open(res.Artifact)
			must(t, err)
			defer a.Close()
			if _, err := tarball.Extract(context.Background(), a, f, ours); err != nil {
				t.Fatal(err)
			}
			sameTree(t, src, ours)
			if needTool(t, "tar") && needTool(t, f.Tool()) {
				sys := t.TempDir()
				t.Cleanup(func() { makeWritable(sys) })
				out, err := exec.Command("tar", "-xf", res.Artifact, "-C", sys).CombinedOutput()
				if err != nil {
					t.Fatalf("tar -xf: %v: %s", err, out)
				}
				sameTree(t, src, sys)
			}
		})
	}
}

// sameTree compares got with want, which still holds .next/cache.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	n := 0
	filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		rel, _ := filepath.Rel(want, p)
		if rel == ".next/cache" {
			if _, err := os.Lstat(filepath.Join(got, rel)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf(".next/cache was extracted: %v", err)
			}
			return filepath.SkipDir
		}
		n++
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(filepath.Join(got, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if rel != "." && wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			wl, _ := os.Readlink(p)
			gl, _ := os.Readlink(filepath.Join(got, rel))
			if wl != gl {
				t.Errorf("%s: symlink to %q, want %q", rel, gl, wl)
			}
		case wi.Mode().IsRegular():
			wb, _ := os.ReadFile(p)
			gb, _ := os.ReadFile(filepath.Join(got, rel))
			if !bytes.Equal(wb, gb) {
				t.Errorf("%s: content differs", rel)
			}
		}
		return nil
	})
	if n < 15 {
		t.Errorf("compared only %d entries", n)
	}
}

func TestPackRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(root string) error
		want string
	}{
		{"escaping symlink", func(root string) error { return os.Symlink("../../etc/passwd", filepath.Join(root, "leak")) }, "outside the tree"},
		{"absolute symlink", func(root string) error { return os.Symlink("/etc/passwd", filepath.Join(root, "leak")) }, "absolute"},
		{"named pipe", func(root string) error { return syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644) }, "files, directories and symlinks"},
		// A tree that would not run: every page without its JavaScript
		// and CSS, or no app at all (standalone.CheckShippable).
		{"static not copied in", func(root string) error { return os.RemoveAll(filepath.Join(root, ".next/static")) }, "postbuild-copy-static"},
		{"no server.js", func(root string) error { return os.Remove(filepath.Join(root, "server.js")) }, "standalone output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := shippable(t)
			must(t, tc.make(root))
			out := t.TempDir()
			_, err := Pack(context.Background(), Options{Source: root, Release: "r1", Format: release.Zstd, OutputDir: out})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Pack = %v, want an error saying %q", err, tc.want)
			}
			if names := dirNames(t, out); len(names) != 0 {
				t.Errorf("a refused pack left %q", names)
			}
		})
	}
}

// Pack keeps permission bits only: a setuid bit on the runner must not
// become a setuid binary on the servers.
func TestPackDropsSpecialBits(t *testing.T) {
	root := shippable(t)
	writeFile(t, filepath.Join(root, "su"), "x", 0o755)
	must(t, os.Chmod(filepath.Join(root, "su"), fs.ModeSetuid|0o755))
	res := pack(t, root, release.Zstd)
	out := filepath.Join(t.TempDir(), "x")
	a, err := os.Open(res.Artifact)
	must(t, err)
	defer a.Close()
	if _, err := tarball.Extract(context.Background(), a, release.Zstd, out); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(out, "su"))
	must(t, err)
	if fi.Mode() != 0o755 {
		t.Errorf("su extracted with mode %v, want -rwxr-xr-x", fi.Mode())
	}
}

func TestPackChecksInput(t *testing.T) {
	src := tree(t)
	for _, o := range []Options{
		{Source: src, Release: "../x", Format: release.Zstd},
		{Source: src, Release: "r1", Format: "zip"},
		{Source: src, Release: "r1", Format: release.Gzip, Level: 12},
		{Source: filepath.Join(src, "server.js"), Release: "r1", Format: release.Zstd},
	} {
		o.OutputDir = t.TempDir()
		if _, err := Pack(context.Background(), o); err == nil {
			t.Errorf("Pack(%+v) succeeded", o)
		}
	}
}

// needTool reports whether a program is on PATH: without it the test part
// is skipped, except under CI=true, where it fails.
func needTool(t *testing.T, name string) bool {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true): %v", name, err)
		}
		t.Logf("skipping the %s part: %v", name, err)
		return false
	}
	return true
}
