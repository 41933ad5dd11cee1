package buildside

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/build"
)

// work holds everything the tests make; TestMain removes it.
var work string

func TestMain(m *testing.M) {
	var err error
	if work, err = os.MkdirTemp("", "buildside-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	status := m.Run()
	os.RemoveAll(work)
	os.Exit(status)
}

// variant is one shape of app: the plain fixture, or the same app inside
// an npm workspaces monorepo.
type variant struct {
	name    string
	release string
	// project is where next.config is, relative to the copy's root.
	project string
	// appDir is where server.js must land inside the standalone tree.
	appDir string
	layout func(t *testing.T, root string)
}

var variants = []*variant{
	{name: "app", release: "e2eapp1", project: ".", appDir: ".", layout: func(t *testing.T, root string) {
		copyTree(t, fixture("next-app"), root)
	}},
	{name: "monorepo", release: "e2emono1", project: "apps/web", appDir: "apps/web", layout: func(t *testing.T, root string) {
		copyTree(t, fixture("next-monorepo"), root)
		for _, name := range []string{"app", "components", "lib", "public", "next.config.ts", "tsconfig.json"} {
			copyTree(t, filepath.Join(fixture("next-app"), name), filepath.Join(root, "apps/web", name))
		}
	}},
}

// built is a variant after build-standalone and postbuild-copy-static.
type built struct {
	root, project string
	build         buildJSON
	outputs       map[string]string // GITHUB_OUTPUT of build-standalone
	staticRuns    [2]string         // the standalone tree's listing after each postbuild run
	buildLog      string
}

type buildJSON struct {
	StandaloneDir string  `json:"standalone_dir"`
	AppDir        string  `json:"app_dir"`
	Release       string  `json:"release"`
	Installed     bool    `json:"installed"`
	PeakMiB       int64   `json:"peak_memory_mib"`
	Seconds       float64 `json:"duration_seconds"`
	HTMLChecked   int     `json:"html_checked"`
	NextCommand   string  `json:"next_command"`
	NextConfig    *struct {
		Output string `json:"output"`
	} `json:"next_config"`
}

var (
	builds   = map[string]*built{}
	buildErr = map[string]error{}
	buildMu  sync.Mutex
)

// build builds a variant once per test binary: next build takes a while,
// every test reads the same result.
func (v *variant) build(t *testing.T) *built {
	t.Helper()
	needTools(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := builds[v.name]; ok {
		return b
	}
	if err, ok := buildErr[v.name]; ok {
		t.Fatalf("building %s failed earlier: %v", v.name, err)
	}
	b, err := v.buildOnce(t)
	builds[v.name], buildErr[v.name] = b, err
	if err != nil {
		delete(builds, v.name)
		t.Fatalf("build %s: %v", v.name, err)
	}
	return b
}

func (v *variant) buildOnce(t *testing.T) (*built, error) {
	root := filepath.Join(work, v.name)
	v.layout(t, root)
	b := &built{root: root, project: filepath.Join(root, v.project)}
	outFile := filepath.Join(work, v.name+".github_output")
	start := time.Now()
	stdout, stderr, err := nextDeploy(t, []string{"GITHUB_ACTIONS=true", "GITHUB_OUTPUT=" + outFile},
		"build-standalone", "--dir", b.project, "--release", v.release, "--install", "auto", "--json")
	b.buildLog = stderr
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, tail(stderr, 4000))
	}
	t.Logf("%s: npm ci and next build took %s", v.name, time.Since(start).Round(time.Second))
	if _, err := cli.DecodeEnvelope(jsonPart(stdout), &b.build); err != nil {
		return nil, fmt.Errorf("build-standalone --json: %w\n%s", err, stdout)
	}
	if b.outputs, err = readOutputs(outFile); err != nil {
		return nil, err
	}
	// Users who copy .next wholesale ship their build cache: plant one,
	// pack must leave it out.
	cache := filepath.Join(b.build.StandaloneDir, filepath.FromSlash(b.build.AppDir), ".next/cache/fetch-cache/junk")
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(cache, bytes.Repeat([]byte("cache "), 1<<16), 0o644); err != nil {
		return nil, err
	}
	for i := range b.staticRuns {
		if _, stderr, err := nextDeploy(t, nil, "postbuild-copy-static", "--dir", b.project); err != nil {
			return nil, fmt.Errorf("postbuild-copy-static run %d: %w\n%s", i+1, err, stderr)
		}
		b.staticRuns[i] = listing(t, b.build.StandaloneDir)
	}
	return b, nil
}

// jsonPart drops the ::group:: lines Actions mode writes around the
// build's log.
func jsonPart(stdout string) []byte {
	var b bytes.Buffer
	for line := range strings.Lines(stdout) {
		if !strings.HasPrefix(line, "::") {
			b.WriteString(line)
		}
	}
	return b.Bytes()
}

// readOutputs parses a GITHUB_OUTPUT file (name<<delimiter blocks).
func readOutputs(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, delim, ok := strings.Cut(sc.Text(), "<<")
		if !ok {
			continue
		}
		var val []string
		for sc.Scan() && sc.Text() != delim {
			val = append(val, sc.Text())
		}
		out[name] = strings.Join(val, "\n")
	}
	return out, sc.Err()
}

var (
	binOnce sync.Once
	bin     string
	binErr  error
)

// nextDeploy runs the real next-deploy binary, built once.
func nextDeploy(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	binOnce.Do(func() {
		bin = filepath.Join(work, "next-deploy")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/org/next-deploy/cmd/next-deploy").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// fixture is the path of a committed fixture.
func fixture(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "fixtures", name))
	return p
}

// listing describes a tree (path, mode, size or link target) to compare
// two states of it.
func listing(t *testing.T, root string) string {
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return err
		}
		fi, _ := os.Lstat(p)
		rel, _ := filepath.Rel(root, p)
		extra := fmt.Sprint(fi.Size())
		if fi.Mode()&fs.ModeSymlink != 0 {
			extra, _ = os.Readlink(p)
		}
		if fi.IsDir() {
			extra = ""
		}
		fmt.Fprintf(&b, "%s %v %s\n", rel, fi.Mode(), extra)
		return nil
	})
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// needTools skips without node, npm, tar or zstd, except under CI=true,
// where a missing tool fails the test.
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm", "tar", "zstd", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true): %v", tool, err)
			}
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	if testing.Short() {
		t.Skip("-short: the end-to-end build takes a minute or more")
	}
}

// copyTree copies src to dst without what a local run may have left.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := build.CopySources(src, dst); err != nil {
		t.Fatal(err)
	}
}
