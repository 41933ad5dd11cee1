package compat

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/test/bed"
)

// TestCompat runs the cells ND_COMPAT selects (the CI cells under
// CI=true), in batches: each cell of a batch is built twice and packed,
// then one bed (a host for single apps, one for the monorepo) takes every
// cell of the batch: deliver (the second release as a delta), activate,
// and the checks through nginx. The bed is one per machine: it is held
// only while a batch deploys, not while it builds.
func TestCompat(t *testing.T) {
	cells, full := selected(t)
	if cells == nil {
		t.Skip("two real next builds per cell: set ND_COMPAT=ci, all or cell names (ND_COMPAT=ci under CI=true)")
	}
	for _, tool := range []string{"node", "npm", "pnpm", "yarn", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed by the matrix (.ci/run installs pnpm and yarn): %v", tool, err)
		}
	}
	var rows []*row
	artifacts := t.TempDir()
	batch := 4 // a bed per batch
	if os.Getenv("ND_COMPAT_HOSTS") == "local" {
		batch = 1 // no bed to share: each cell deploys as soon as it is built
	}
	for start := 0; start < len(cells); start += batch {
		var ready []*cellRun
		for _, c := range cells[start:min(start+batch, len(cells))] {
			r := &row{cell: c.name(), router: c.router}
			rows = append(rows, r)
			cr := &cellRun{cell: c, row: r, artifacts: filepath.Join(artifacts, c.name())}
			t.Run("build/"+c.name(), func(t *testing.T) { cr.build(t) })
			if cr.b2.pack.Artifact != "" {
				ready = append(ready, cr)
			} else {
				r.result = "failed to build"
			}
		}
		if len(ready) > 0 {
			t.Run(fmt.Sprintf("deploy-batch-%d", start/batch+1), func(t *testing.T) { deployBatch(t, ready) })
		}
		if full { // after each batch: a run cut short keeps its rows
			writeDoc(t, rows)
		}
	}
	t.Logf("compatibility matrix:\n%s", markdown(rows))
}

// cellRun is one cell on its way through the matrix.
type cellRun struct {
	cell   cell
	row    *row
	b1, b2 built
	chunk  string // a static file of release 1 only
	// artifacts holds the cell's two artifacts until TestCompat ends.
	artifacts string
}

// docFile is docs/compatibility.md.
func docFile() string {
	return filepath.Join(fixture(".."), "..", "docs", "compatibility.md")
}

// writeDoc writes docs/compatibility.md: the rows of this run, and the
// rows an earlier run left for the cells this one has not run (a full
// run cut short is finished with ND_COMPAT=missing), in the matrix's
// order.
func writeDoc(t *testing.T, rows []*row) {
	lines := docLines(docFile())
	for _, r := range rows {
		lines[r.cell] = r.line()
	}
	var table strings.Builder
	table.WriteString(tableHead)
	all := allCells()
	for _, c := range all {
		table.WriteString(lines[c.name()])
	}
	must(t, os.WriteFile(docFile(), []byte(document(table.String(), len(lines), len(all))), 0o644))
	t.Logf("wrote %s (%d of %d cells)", docFile(), len(lines), len(all))
}

// row is one cell's line of the table.
type row struct {
	cell, router, next, pm, command string
	build1, build2                  float64 // seconds of next build (install not included)
	install1, install2              string
	artifactMiB, deltaPercent       float64
	deliver2, activate2             float64 // seconds
	page, chunk                     string
	listens                         string // where the app's processes listen
	result                          string
}

// build builds and packs the cell's two releases, then removes its
// sources (node_modules is big; the artifacts stay).
func (cr *cellRun) build(t *testing.T) {
	c, r := cr.cell, cr.row
	work := t.TempDir()
	root := filepath.Join(work, "src")
	project, lockTook := c.layout(t, root)
	t.Logf("%s: layout and lockfile in %s", c.name(), lockTook.Round(time.Second))
	id1, id2 := releaseID(c, 1), releaseID(c, 2)
	artifacts := cr.artifacts
	b1 := buildPack(t, project, id1, artifacts)
	r.next, r.pm, r.command = b1.build.NextVersion, c.pm+" "+toolVersion(c.pm), b1.build.NextCommand
	r.build1, r.install1 = b1.build.Seconds, installText(b1.build)
	r.artifactMiB = float64(b1.pack.Bytes) / (1 << 20)
	if b1.build.NextConfig == nil {
		t.Errorf("build-standalone did not read next.config through Next %s's loader before the build (warnings %q)", r.next, b1.build.Warnings)
	}
	cr.chunk = releaseChunk(t, b1, id1) // before r2's build replaces .next
	page := c.homePage(project)
	src, err := os.ReadFile(page)
	must(t, err)
	changed := strings.Replace(string(src), "<h1>next-deploy fixture</h1>", "<h1>next-deploy fixture, changed</h1>", 1)
	if changed == string(src) {
		t.Fatalf("%s: the line to change is not there", page)
	}
	writeFile(t, page, changed)
	b2 := buildPack(t, project, id2, artifacts)
	r.build2, r.install2 = b2.build.Seconds, installText(b2.build)
	if c.pm == "npm" && b2.build.InstallSkipped == "" {
		t.Errorf("second build: npm ci ran again, want the install skipped (node_modules matches package-lock.json)")
	}
	cr.b1, cr.b2 = b1, b2
}

// deployBatch deploys every cell of a batch: on one bed, started for the
// batch (it goes when the batch's subtest ends), the monorepo's on a host
// of its own (its app dir differs); with ND_COMPAT_HOSTS=local on this
// machine, a local host per cell.
func deployBatch(t *testing.T, cells []*cellRun) {
	var b *bed.Bed
	if os.Getenv("ND_COMPAT_HOSTS") != "local" {
		b = bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true, StaticLocation: func(h *bed.Host) string {
			loc, err := nginx.StaticLocation(nginx.Config{Root: h.DeployPath, AppDir: hostAppDir(h), Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
			if err != nil {
				t.Fatalf("config nginx for %s: %v", h.Name(), err)
			}
			return loc
		}})
	}
	for _, cr := range cells {
		t.Run("deploy/"+cr.cell.name(), func(t *testing.T) {
			var h host
			switch {
			case b == nil:
				h = startLocal(t, map[bool]string{true: "apps/web"}[cr.cell.mono])
			case cr.cell.mono:
				h = bedHost{b, b.Hosts[1]}
			default:
				h = bedHost{b, b.Hosts[0]}
			}
			deploy(t, h, cr)
			if !t.Failed() {
				cr.row.result = "ok"
			}
		})
		if cr.row.result == "" {
			cr.row.result = "failed to deploy"
		}
	}
}

// hostAppDir is where server.js is in the releases a bed host gets: host
// 1 takes the monorepo.
func hostAppDir(h *bed.Host) string {
	if h.Index == 1 {
		return "apps/web"
	}
	return ""
}

// releaseID is a release id per cell: 13.5-npm-pages → c135npmpages1.
func releaseID(c cell, n int) string {
	return "c" + regexp.MustCompile(`[^a-z0-9]`).ReplaceAllString(c.name(), "") + fmt.Sprint(n)
}

// installText is the install's column: its seconds, or skipped.
func installText(b buildJSON) string {
	switch {
	case b.Installed:
		return fmt.Sprintf("%.1f s", b.InstallSeconds)
	case b.InstallSkipped != "":
		return "skipped"
	}
	return "none"
}

// releaseChunk is a static file that belongs to release id only: under
// .next/static/<build id>/ (the build id is the release id).
func releaseChunk(t *testing.T, b built, id string) string {
	t.Helper()
	dir := filepath.Join(b.build.StandaloneDir, filepath.FromSlash(b.build.AppDir), ".next", "static", id)
	var chunk string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && chunk == "" {
			rel, _ := filepath.Rel(dir, p)
			chunk = "/" + id + "/_next/static/" + id + "/" + filepath.ToSlash(rel)
		}
		return nil
	})
	if chunk == "" {
		t.Fatalf("no files under %s: the build id is not the release id", dir)
	}
	return chunk
}

// deploy delivers and activates both releases of a cell on h, then
// checks the page and release 1's chunk through h's nginx, and where the
// app listens.
func deploy(t *testing.T, h host, cr *cellRun) {
	r, b1, b2 := cr.row, cr.b1, cr.b2
	id1, id2 := b1.build.Release, b2.build.Release
	if d := deliver(t, h, b1.pack.Artifact); d.Mode != "full" {
		t.Errorf("deliver %s: %+v, want a full upload", id1, d)
	}
	activate(t, h, id1)
	start := time.Now()
	d := deliver(t, h, b2.pack.Artifact)
	r.deliver2 = time.Since(start).Seconds()
	r.deltaPercent = 100 * float64(d.Bytes) / float64(b2.pack.Bytes)
	if d.Mode != "delta" || d.Base != id1 {
		t.Errorf("deliver %s: %+v, want a delta from %s", id2, d, id1)
	}
	start = time.Now()
	activate(t, h, id2)
	r.activate2 = time.Since(start).Seconds()
	status, body := h.get(t, "/")
	r.page = fmt.Sprint(status)
	if status != 200 || !strings.Contains(body, "next-deploy fixture, changed") || !strings.Contains(body, "/"+id2+"/_next/static/") {
		t.Errorf("GET / through nginx: %d, want 200 with release %s's page", status, id2)
	}
	status, _ = h.get(t, cr.chunk)
	r.chunk = fmt.Sprint(status)
	if status != 200 {
		t.Errorf("GET %s (release %s's chunk) through nginx after %s went live: %d, want 200", cr.chunk, id1, id2, status)
	}
	r.listens = h.listens(t)
}
