package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/test/bed"
)

// TestDeltaRedeployOfRealFixture redeploys the fixture app (built for real
// by the CLI) after a one-line change of a page and a new release id, as
// a push to a branch does: host 0 gets a delta from v1 of a few per cent
// of the artifact; host 1, whose v1 was tampered with under node_modules
// (same size, other bytes), fails the verification of the assembled tree
// and gets the whole artifact instead. Both trees equal a full delivery
// of the same artifact, and the files v2 shares with v1 are only those a
// server never writes. Two next builds: it runs under CI=true, or with
// ND_E2E_NEXT=1.
func TestDeltaRedeployOfRealFixture(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("ND_E2E_NEXT") != "1" {
		t.Skip("two real next builds: set ND_E2E_NEXT=1 (always under CI=true)")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build the fixture", tool)
		}
	}
	v1, v2 := dltBuild(t, t.TempDir())
	b := bed.Start(t, bed.Options{Hosts: 2})

	r1 := dltDeliver(t, b, "--artifact", v1, "--json")
	for i, h := range b.Hosts {
		if r := r1.host(t, b, i); r.Mode != "full" {
			t.Errorf("first delivery to %s: %+v, want a full upload (no base yet)", h.Name(), r)
		}
		b.RunAs(t, h, `ln -sfn releases/v1 ~/app/current`)
	}
	// Host 1's base: one byte of a node_modules file changed, size kept.
	tampered := strings.TrimSpace(b.RunAs(t, b.Hosts[1], `cd ~/app/releases/v1 &&
f=$(find node_modules -type f -name '*.js' -size +2k | LC_ALL=C sort | head -n 1) &&
[ -n "$f" ] && s=$(stat -c %s "$f") && sed -i '0,/e/s//E/' "$f" && [ "$(stat -c %s "$f")" = "$s" ] && echo "$f"`))
	t.Logf("tampered with %s in host 1's v1", tampered)

	r2 := dltDeliver(t, b, "--artifact", v2, "--json")
	d, full := r2.host(t, b, 0), r2.host(t, b, 1)
	t.Logf("v2 artifact: %d bytes", r2.Bytes)
	t.Logf("%s: %+v (%.2f%% of the artifact sent)", d.Host, d, 100*float64(d.Bytes)/float64(r2.Bytes))
	t.Logf("%s: %+v", full.Host, full)
	if d.State != "delivered" || d.Mode != "delta" || d.Base != "v1" || d.SentFiles == 0 || d.Linked == 0 {
		t.Errorf("%s: %+v; want a delta from v1", d.Host, d)
	}
	if d.Bytes*50 >= r2.Bytes {
		t.Errorf("%s: the delta sent %d bytes of a %d byte artifact, want < 2%%", d.Host, d.Bytes, r2.Bytes)
	}
	if full.State != "delivered" || full.Mode != "full" || !strings.Contains(full.Fallback, "VERIFY") || full.Bytes < r2.Bytes {
		t.Errorf("%s: %+v; want a full upload after the verification of the tampered base failed", full.Host, full)
	}
	if !strings.Contains(full.Fallback, filepath.Base(tampered)) {
		t.Logf("note: the fallback does not name the tampered file %s", tampered)
	}

	// The same artifact delivered whole under another id; the bed's
	// connection flags name both hosts, so each host gets one.
	rf := dltDeliver(t, b, "--artifact", v2, "--delta", "off", "--release", "v2full", "--json")
	for i := range b.Hosts {
		if r := rf.host(t, b, i); r.Mode != "full" || r.Fallback != "" {
			t.Errorf("--delta off to %s: %+v, want a plain full upload", r.Host, r)
		}
	}
	want := dltTree(t, b, b.Hosts[0], "v2full")
	if n := strings.Count(want, "\n"); n < 1000 {
		t.Errorf("v2full lists %d lines; is it the fixture's standalone tree?", n)
	}
	for _, h := range b.Hosts {
		for _, id := range []string{"v2", "v2full"} {
			if got := dltTree(t, b, h, id); got != want {
				t.Errorf("%s: release %s differs from host 0's full delivery:\n%s", h.Name(), id, dltDiff(got, want))
			}
		}
	}

	// Shared with v1 (hard links): only what a server never writes.
	shared := strings.FieldsFunc(b.RunAs(t, b.Hosts[0], `cd ~/app/releases/v2 && find . -path ./.next-deploy -prune -o -type f -links +1 -printf '%P\n'`),
		func(r rune) bool { return r == '\n' })
	t.Logf("%s: %d files of v2 are hard links shared with v1", b.Hosts[0].Name(), len(shared))
	if len(shared) < 500 {
		t.Errorf("only %d files of v2 are shared with v1, want node_modules, .next/static and public", len(shared))
	}
	for _, p := range shared {
		if !strings.HasPrefix(p, "node_modules/") && !strings.HasPrefix(p, ".next/static/") && !strings.HasPrefix(p, "public/") {
			t.Errorf("v2's %s is a hard link shared with another release; the server may write it", p)
		}
	}
}

// dltBuild builds the fixture as release v1, then with one line of a page
// changed as release v2, in the same directory (as a CI runner with a
// restored checkout would; node_modules installed once), with the CLI:
// build-standalone, postbuild-copy-static, pack. It returns the artifacts.
func dltBuild(t *testing.T, work string) (v1, v2 string) {
	t.Helper()
	dir := filepath.Join(work, "src")
	actCopyTree(t, actFixtureDir(t), dir)
	artifacts := filepath.Join(work, "artifacts")
	for i, id := range []string{"v1", "v2"} {
		install := "auto"
		if i > 0 {
			page := filepath.Join(dir, "app", "page.tsx")
			src, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			changed := strings.Replace(string(src), "<h1>next-deploy fixture</h1>", "<h1>next-deploy fixture, changed</h1>", 1)
			if changed == string(src) {
				t.Fatalf("%s: the line to change is not there", page)
			}
			if err := os.WriteFile(page, []byte(changed), 0o644); err != nil {
				t.Fatal(err)
			}
			install = "skip"
		}
		actBuildPack(t, dir, id, install, artifacts)
	}
	return filepath.Join(artifacts, "v1.tar.zst"), filepath.Join(artifacts, "v2.tar.zst")
}

// dltReport is what deliver --json prints.
type dltReport struct {
	Release string      `json:"release"`
	Bytes   int64       `json:"bytes"`
	Hosts   []dltResult `json:"hosts"`
}

type dltResult struct {
	Host      string  `json:"host"`
	State     string  `json:"state"`
	Mode      string  `json:"mode"`
	Base      string  `json:"base"`
	Fallback  string  `json:"fallback"`
	Bytes     int64   `json:"bytes"`
	Received  int64   `json:"received_bytes"`
	SentFiles int     `json:"sent_files"`
	Linked    int     `json:"linked"`
	Derived   int     `json:"derived"`
	Copied    int     `json:"copied"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error"`
}

// host is the result of the bed's host i.
func (r dltReport) host(t *testing.T, b *bed.Bed, i int) dltResult {
	t.Helper()
	for _, h := range r.Hosts {
		if h.Host == b.Hosts[i].Target() {
			return h
		}
	}
	t.Fatalf("deliver %s: no result for %s in %+v", r.Release, b.Hosts[i].Target(), r.Hosts)
	return dltResult{}
}

// dltDeliver runs deliver with --json against every host of the bed.
func dltDeliver(t *testing.T, b *bed.Bed, args ...string) dltReport {
	t.Helper()
	status, stdout, stderr := actCLI(t, b, append([]string{"deliver"}, args...)...)
	if status != 0 {
		t.Fatalf("deliver %s: exit %d\n%s\n%s", strings.Join(args, " "), status, stdout, stderr)
	}
	var r dltReport
	if _, err := cli.DecodeEnvelope([]byte(stdout), &r); err != nil {
		t.Fatalf("deliver --json: %v\n%s", err, stdout)
	}
	return r
}

// dltTree lists a release on a host: every path's type, mode, size (not
// a directory's), link target, and every file's sha256; .next-deploy/
// (the release's own manifest) left out.
func dltTree(t *testing.T, b *bed.Bed, h *bed.Host, id string) string {
	t.Helper()
	return b.RunAs(t, h, `cd ~/app/releases/"$1" && {
find . -mindepth 1 -path ./.next-deploy -prune -o -type d -printf '%P\td\t%m\n' -o -printf '%P\t%y\t%m\t%s\t%l\n'
find . -mindepth 1 -path ./.next-deploy -prune -o -type f -print0 | xargs -0 -r sha256sum
} | LC_ALL=C sort`, id)
}

// dltDiff is the lines only one of two listings has, at most 20 of each.
func dltDiff(got, want string) string {
	only := func(a, b string) []string {
		in := map[string]bool{}
		for _, l := range strings.Split(b, "\n") {
			in[l] = true
		}
		var out []string
		for _, l := range strings.Split(a, "\n") {
			if !in[l] && len(out) < 20 {
				out = append(out, l)
			}
		}
		return out
	}
	return "only in the release:\n" + strings.Join(only(got, want), "\n") + "\nonly in the full delivery:\n" + strings.Join(only(want, got), "\n")
}
