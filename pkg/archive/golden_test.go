package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/tarball"
)

var update = flag.Bool("update", false, "rewrite testdata/pack.golden from what this build packs")

const goldenFile = "testdata/pack.golden"

// goldenTree writes a synthetic standalone tree, byte for byte the same on
// every machine: server.js and package.json in appDir ("." or a monorepo's
// "apps/web"), .next/static, public/ with a symlink, node_modules with a
// pnpm symlink, an executable and a native library of noise bytes of
// incompressible data (tarball's binaryFile: zstd switches levels around
// it), a read-only directory and a build cache that is left out. Every
// mode is set explicitly, so the umask does not matter.
func goldenTree(t *testing.T, appDir string, noise int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "standalone")
	app := func(name string) string { return path.Join(appDir, name) }
	files := map[string]string{
		app("server.js"):                                         "const next = require('next')\nrequire('http')\n",
		app("package.json"):                                      `{"name":"app","private":true,"version":"1.0.0"}` + "\n",
		app(".next/BUILD_ID"):                                    "r1",
		app(".next/server/app/index.html"):                       `<html><script src="/r1/_next/static/chunks/app/page.js"></script></html>`,
		app(".next/static/css/app.css"):                          "body{color:red}\n",
		app(".next/cache/webpack/0.pack"):                        "cache that must not ship",
		app("public/robots.txt"):                                 "User-agent: *\n",
		"node_modules/next/index.js":                             "module.exports = require('./dist/server/server.js')\n",
		"node_modules/next/dist/server/server.js":                "module.exports = 1\n",
		"node_modules/.pnpm/foo@1.0.0/node_modules/foo/index.js": "module.exports = 'foo'\n",
	}
	for i := range 5 {
		var b strings.Builder
		for j := range 400 {
			fmt.Fprintf(&b, "console.log(\"chunk %d line %d\");\n", i, j)
		}
		files[app(fmt.Sprintf(".next/static/chunks/app/page-%d.js", i))] = b.String()
	}
	for i := range 20 {
		files[fmt.Sprintf("node_modules/pkg%d/index.js", i)] = strings.Repeat(fmt.Sprintf("module.exports.f%d = () => %d\n", i, i), 100)
	}
	for name, body := range files {
		writeFile(t, filepath.Join(root, name), body, 0o644)
	}
	writeFile(t, filepath.Join(root, "node_modules/.bin/run"), "#!/bin/sh\necho run\n", 0o755)
	rng := rand.New(rand.NewPCG(12, 34))
	b := make([]byte, noise)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	writeFile(t, filepath.Join(root, "node_modules/@img/sharp-libvips/lib/libvips-cpp.so.8.17.1"), string(b), 0o755)
	must(t, os.Symlink(".pnpm/foo@1.0.0/node_modules/foo", filepath.Join(root, "node_modules/foo")))
	must(t, os.Symlink("robots.txt", filepath.Join(root, app("public/robots-alias.txt"))))
	writeFile(t, filepath.Join(root, "packages/ui/index.js"), "export const Button = 1\n", 0o444)
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	}))
	must(t, os.Chmod(filepath.Join(root, "packages/ui"), 0o555))
	t.Cleanup(func() { makeWritable(root) })
	return root
}

// TestPackBytesAreGolden guards against a change of pack's bytes: the same
// tree must give the same artifact across versions of next-deploy (a
// rebuilt commit gets the same sha256, so deliver finds it already on the
// hosts), not only within one run (TestPackIsReproducible). A refactoring
// must leave testdata/pack.golden as it is. A deliberate change (a new
// compressor version, another frame size) rewrites it with
//
//	go test ./pkg/archive -run Golden -update
//
// and says why in its commit.
func TestPackBytesAreGolden(t *testing.T) {
	epoch := time.Unix(1700000000, 0).UTC()
	var got []string
	for _, tc := range []struct {
		name   string
		appDir string
		f      release.Format
		level  int
		noise  int
		mtime  time.Time
	}{
		// More than a frame of noise: several frames, compressed at once.
		{"single-zst", ".", release.Zstd, 0, tarball.ZstdFrameSize + 1<<20, time.Time{}},
		{"single-zst-3", ".", release.Zstd, 3, 256 << 10, time.Time{}},
		{"single-zst-19", ".", release.Zstd, 19, 256 << 10, time.Time{}},
		{"single-gz", ".", release.Gzip, 0, 256 << 10, time.Time{}},
		{"single-gz-1", ".", release.Gzip, 1, 256 << 10, epoch},
		{"single-xz", ".", release.Xz, 0, 256 << 10, time.Time{}},
		{"single-xz-1", ".", release.Xz, 1, 256 << 10, time.Time{}},
		{"mono-zst", "apps/web", release.Zstd, 0, 256 << 10, epoch},
		{"mono-gz", "apps/web", release.Gzip, 0, 256 << 10, time.Time{}},
		{"mono-xz", "apps/web", release.Xz, 0, 256 << 10, time.Time{}},
	} {
		src := goldenTree(t, tc.appDir, tc.noise)
		res, err := Pack(context.Background(), Options{Source: src, Release: "r1", Format: tc.f, Level: tc.level, OutputDir: t.TempDir(), ModTime: tc.mtime})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.AppDir != tc.appDir {
			t.Errorf("%s: app dir %q, want %q", tc.name, res.AppDir, tc.appDir)
		}
		files, err := os.ReadFile(res.FilesFile)
		must(t, err)
		sum := sha256.Sum256(files)
		got = append(got, fmt.Sprintf("%s %s %s", tc.name, res.SHA256, hex.EncodeToString(sum[:])))
	}
	if *update {
		must(t, os.MkdirAll(filepath.Dir(goldenFile), 0o755))
		must(t, os.WriteFile(goldenFile, []byte(strings.Join(got, "\n")+"\n"), 0o644))
		return
	}
	want := readGolden(t)
	if !slices.Equal(got, want) {
		t.Errorf("pack's bytes changed (name, artifact sha256, files.tsv sha256):\ngot:\n%s\nwant (%s):\n%s\nif that is deliberate, run go test ./pkg/archive -run Golden -update and say why in the commit",
			strings.Join(got, "\n"), goldenFile, strings.Join(want, "\n"))
	}
}

func readGolden(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(goldenFile)
	must(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	must(t, sc.Err())
	return lines
}
