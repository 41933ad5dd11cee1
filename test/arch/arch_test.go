// Package arch checks the layering rules of shared/DESIGN.md on the real
// import graph (go list -deps): arrows go down only, Face -> steps ->
// concepts, and each outside library has one owner.
package arch

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/org/next-deploy"

// steps are the step packages: one per pipeline step. Everything else under
// pkg/ is a concept.
var steps = []string{"build", "static", "archive", "deliver", "barrier", "activate", "prune", "status", "heap"}

// owners says which packages alone may import an outside library (or any
// package below it).
var owners = map[string][]string{
	"github.com/sethvargo/go-githubactions": {"cmd/next-deploy", "internal/cli"},
	"github.com/google/go-github":           {"pkg/ghapi"},
	"golang.org/x/crypto/ssh":               {"pkg/remote"},
}

// graph is every package of the module that ships (cmd, internal, pkg; not
// tests, the test bed or benchmarks) with its direct imports.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}",
		module+"/cmd/...", module+"/internal/...", module+"/pkg/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if rel, ok := strings.CutPrefix(f[0], module+"/"); ok {
			g[rel] = f[1:]
		}
	}
	if len(g) < 20 {
		t.Fatalf("go list found %d packages of the module; want the whole tree", len(g))
	}
	return g
}

// stepOf is the step a package of the module belongs to, or "".
func stepOf(rel string) string {
	for _, s := range steps {
		if rel == "pkg/"+s || strings.HasPrefix(rel, "pkg/"+s+"/") {
			return s
		}
	}
	return ""
}

func TestArrowsGoDownOnly(t *testing.T) {
	g := graph(t)
	for pkg, imports := range g {
		for _, imp := range imports {
			rel, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if strings.HasPrefix(pkg, "pkg/") {
				if s := stepOf(rel); s != "" && s != stepOf(pkg) {
					t.Errorf("%s imports the step %s: a step never imports another step, a concept never imports a step (move the shared part down into a concept)", pkg, rel)
				}
				if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "internal/") {
					t.Errorf("%s imports the Face (%s): arrows go down only", pkg, rel)
				}
			}
			if strings.HasPrefix(rel, "test/") {
				t.Errorf("%s imports test support %s", pkg, rel)
			}
		}
	}
}

func TestOutsideLibrariesHaveOneOwner(t *testing.T) {
	g := graph(t)
	for pkg, imports := range g {
		for _, imp := range imports {
			for lib, allowed := range owners {
				if imp != lib && !strings.HasPrefix(imp, lib+"/") {
					continue
				}
				if !slices.Contains(allowed, pkg) {
					t.Errorf("%s imports %s: only %s may", pkg, imp, strings.Join(allowed, ", "))
				}
			}
		}
	}
}

// The rules above must be able to fail: a graph with a step importing a
// step is caught.
func TestStepOf(t *testing.T) {
	for rel, want := range map[string]string{
		"pkg/deliver": "deliver", "pkg/heap": "heap", "pkg/release": "", "pkg/pm2/pm2test": "",
		"pkg/statusx": "", "cmd/next-deploy": "", "pkg/build/sub": "build",
	} {
		if got := stepOf(rel); got != want {
			t.Errorf("stepOf(%q) = %q, want %q", rel, got, want)
		}
	}
}
