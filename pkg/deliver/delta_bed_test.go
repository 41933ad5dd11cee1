package deliver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// standaloneTree writes a tree shaped like a Next.js standalone output:
// node_modules with many files (some of them incompressible), .next/server
// pages, .next/static chunks, public/. The change says what differs from
// the first version: a line of server.js, a page, a chunk added.
func standaloneTree(t *testing.T, changed bool) string {
	t.Helper()
	src := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]string{
		"server.js":                   "const next = require('next')\nconst port = 3000\n",
		"package.json":                `{"name":"app","private":true}`,
		".next/BUILD_ID":              "b1",
		".next/server/app/index.html": "<html>home</html>",
		".next/server/app/about.html": "<html>about</html>",
		".next/static/chunks/main.js": "main()",
		"public/robots.txt":           "User-agent: *\n",
	}
	for i := range 200 {
		files[fmt.Sprintf("node_modules/pkg%d/index.js", i)] = strings.Repeat(fmt.Sprintf("module.exports.f%d = () => %d\n", i, i), 50)
	}
	blob := make([]byte, 256<<10)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	files["node_modules/native/lib.so"] = string(blob)
	if changed {
		files["server.js"] = "const next = require('next')\nconst port = 3001\n"
		files[".next/BUILD_ID"] = "b2"
		files[".next/server/app/index.html"] = "<html>home, new</html>"
		files[".next/static/chunks/new.js"] = "added()"
	}
	writeTree(t, src, files)
	if err := os.Symlink("../pkg0/index.js", filepath.Join(src, "node_modules/native/alias.js")); err != nil {
		t.Fatal(err)
	}
	return src
}

func packDir(t *testing.T, src, id string) deliver.Artifact {
	t.Helper()
	res, err := archive.Pack(context.Background(), archive.Options{Source: src, Release: id, Format: release.Zstd, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := deliver.Inspect(context.Background(), res.Artifact, id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// treeOf lists a release on a host: every path's type, mode, size, link
// target, and every file's sha256.
func treeOf(t *testing.T, b *bed.Bed, h *bed.Host, id string) string {
	t.Helper()
	return b.RunAs(t, h, `cd ~/app/releases/`+id+` &&
find . -path ./.next-deploy -prune -o -printf '%P %y %m %s %l\n' | grep -v ' d .* ' | LC_ALL=C sort &&
find . -path ./.next-deploy -prune -o -type d -printf '%P %m\n' | LC_ALL=C sort &&
find . -path ./.next-deploy -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum`)
}

func TestDeltaRedeployEqualsFullAndFallsBackOnATamperedBase(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 2})
	f := newFleet(t, b)
	ctx := context.Background()
	v1 := packDir(t, standaloneTree(t, false), "v1")
	rs, err := deliver.Run(ctx, f.pool, f.targets, f.layout, v1, deliver.Options{Release: "v1", Delta: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Mode != "full" || !strings.Contains(r.Fallback, "no base") {
			t.Errorf("first delivery to %s: %+v, want a full upload for want of a base", r.Host, r)
		}
	}
	for _, h := range b.Hosts {
		b.RunAs(t, h, `ln -s releases/v1 ~/app/current`)
	}
	// Host 1's base is tampered with: same size, other bytes.
	b.RunAs(t, b.Hosts[1], `cd ~/app/releases/v1/node_modules/pkg7 && sed -i 's/f7/g7/' index.js`)

	v2 := packDir(t, standaloneTree(t, true), "v2")
	rs, err = deliver.Run(ctx, f.pool, f.targets, f.layout, v2, deliver.Options{Release: "v2", Delta: true})
	if err != nil {
		t.Fatalf("deliver v2: %v (%+v)", err, rs)
	}
	d, full := rs[0], rs[1]
	t.Logf("delta: %+v", d)
	t.Logf("fallback: %+v", full)
	if d.State != deliver.Delivered || d.Mode != "delta" || d.Base != "v1" || d.SentFiles != 4 || d.Linked < 200 || d.Copied != 2 {
		t.Errorf("%s: %+v; want a delta from v1 with 4 files sent, node_modules linked, 2 files copied", d.Host, d)
	}
	if d.Bytes*20 > v2.Bytes {
		t.Errorf("%s: delta sent %d bytes of a %d byte artifact", d.Host, d.Bytes, v2.Bytes)
	}
	if full.State != deliver.Delivered || full.Mode != "full" || !strings.Contains(full.Fallback, "VERIFY") || !strings.Contains(full.Fallback, "pkg7/index.js") || full.Bytes < v2.Bytes {
		t.Errorf("%s: %+v; want a full upload after the verification named the tampered file", full.Host, full)
	}

	// The same artifact delivered whole, under another id: the trees match.
	if _, err := deliver.Run(ctx, f.pool, f.targets[:1], f.layout, v2, deliver.Options{Release: "v2full"}); err != nil {
		t.Fatal(err)
	}
	want := treeOf(t, b, b.Hosts[0], "v2full")
	for _, h := range b.Hosts {
		if got := treeOf(t, b, h, "v2"); got != want {
			t.Errorf("%s: release v2 differs from a full delivery:\n%s\n---\n%s", h.Name(), got, want)
		}
		if got := releasesDir(t, h); strings.Join(got, ",") != strings.Join(map[bool][]string{true: {"v1", "v2", "v2full"}, false: {"v1", "v2"}}[h == b.Hosts[0]], ",") {
			t.Errorf("%s: releases/ = %v, no incoming must be left", h.Name(), got)
		}
	}
	// Files shared with the base (hard links) are only those a server
	// never writes to.
	shared := b.RunAs(t, b.Hosts[0], `cd ~/app/releases/v2 && find . -path ./.next-deploy -prune -o -type f -links +1 -printf '%P\n'`)
	lines := strings.Fields(shared)
	if len(lines) < 200 {
		t.Errorf("only %d files of v2 are shared with v1, want node_modules and static", len(lines))
	}
	for _, p := range lines {
		if !strings.HasPrefix(p, "node_modules/") && !strings.HasPrefix(p, ".next/static/") && !strings.HasPrefix(p, "public/") {
			t.Errorf("v2's %s is a hard link shared with another release; the server may write it", p)
		}
	}
}
