package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/test/bed"
)

// TestActivateRealNextBuildUnderLoad is TestActivateRollbackPruneUnderLoad
// with releases of the fixture app (test/fixtures/next-app) built for real
// by the CLI: build-standalone (npm ci, next build), postbuild-copy-static,
// pack, deliver. The release that crashes at start is the tiny one: a
// crash needs no build. It takes minutes (three next builds): it runs
// under CI=true, or with ND_E2E_NEXT=1.
func TestActivateRealNextBuildUnderLoad(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("ND_E2E_NEXT") != "1" {
		t.Skip("three real next builds: set ND_E2E_NEXT=1 (always under CI=true)")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build the fixture", tool)
		}
	}
	testRolloutUnderLoad(t, &actFixture{work: t.TempDir(), chunk: map[string][]string{}})
}

// actFixture builds and packs the fixture app as release id, and
// delivers it.
type actFixture struct {
	work  string
	mu    sync.Mutex
	chunk map[string][]string
}

// prebuild builds the releases before the bed starts: the bed is one per
// machine, other packages' tests wait for it.
func (f *actFixture) prebuild(t *testing.T, ids ...string) {
	for _, id := range ids {
		f.build(t, id)
	}
}

func (f *actFixture) ship(t *testing.T, b *bed.Bed, id string, crash bool) {
	t.Helper()
	if crash {
		actTiny{}.ship(t, b, id, true)
		return
	}
	if f.chunks(id) == nil {
		f.build(t, id)
	}
	status, stdout, stderr := actCLI(t, b, "deliver", "--artifact", filepath.Join(f.work, "artifacts", id+".tar.zst"))
	if status != 0 {
		t.Fatalf("deliver %s: exit %d\n%s\n%s", id, status, stdout, stderr)
	}
}

func (f *actFixture) build(t *testing.T, id string) {
	t.Helper()
	dir := filepath.Join(f.work, id)
	actCopyTree(t, actFixtureDir(t), dir)
	built := actBuildPack(t, dir, id, "auto", filepath.Join(f.work, "artifacts"))
	// The files under .next/static/<build id>/ belong to this release only
	// (the fixture's build id is the release id): after prune they 404.
	static := filepath.Join(built.StandaloneDir, filepath.FromSlash(built.AppDir), ".next", "static", id)
	var chunks []string
	_ = filepath.WalkDir(static, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(static, p)
			chunks = append(chunks, "/"+id+"/_next/static/"+id+"/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if len(chunks) == 0 {
		t.Fatalf("no files under %s: the build id is not the release id", static)
	}
	f.mu.Lock()
	f.chunk[id] = chunks
	f.mu.Unlock()
}

func (f *actFixture) chunks(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.chunk[id]
}

// actBuilt is what build-standalone --json says of a build.
type actBuilt struct {
	StandaloneDir string `json:"standalone_dir"`
	AppDir        string `json:"app_dir"`
}

// actBuildPack builds the app in dir as release id with the CLI
// (build-standalone with --install, postbuild-copy-static) and packs it
// into artifacts/<id>.tar.zst.
func actBuildPack(t *testing.T, dir, id, install, artifacts string) actBuilt {
	t.Helper()
	out := actLocal(t, "build-standalone", "--dir", dir, "--release", id, "--install", install, "--json")
	var built actBuilt
	if _, err := cli.DecodeEnvelope([]byte(out[strings.Index(out, "{"):]), &built); err != nil {
		t.Fatalf("build-standalone --json: %v\n%s", err, out)
	}
	actLocal(t, "postbuild-copy-static", "--dir", dir)
	actLocal(t, "pack", "--source", built.StandaloneDir, "--release", id, "--output-dir", artifacts)
	return built
}

// actLocal runs a CLI step that touches no host and returns its stdout.
func actLocal(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(actBinary(t), args...)
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("next-deploy %s: %v\n%s", args[0], err, stderr.String())
	}
	return string(out)
}

func actFixtureDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "fixtures", "next-app")
}

// actCopyTree copies the fixture's sources (not node_modules, not .next).
func actCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := build.CopySources(src, dst); err != nil {
		t.Fatal(err)
	}
}
