package actions

// Helpers for the tests of actions/_lib/get-binary.sh, the script every
// action runs to get the next-deploy binary: a fake release server, a PATH
// holding only the tools the script may use, and a way to run it.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRelease serves one release like GitHub's download URLs do:
// <base>/<tag>/checksums.txt and <base>/<tag>/<asset>.
type fakeRelease struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

func newFakeRelease(t *testing.T, tag string, files map[string][]byte) *fakeRelease {
	t.Helper()
	fr := &fakeRelease{}
	fr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fr.mu.Lock()
		fr.hits = append(fr.hits, r.URL.Path)
		fr.mu.Unlock()
		name, ok := strings.CutPrefix(r.URL.Path, "/"+tag+"/")
		data, found := files[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(fr.srv.Close)
	return fr
}

func (fr *fakeRelease) requests() []string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return slices.Clone(fr.hits)
}

// toolDir is a PATH holding only what get-binary.sh needs, plus a fake go
// when withGo: it records its arguments and writes a tiny program to -o.
func toolDir(t *testing.T, withGo bool) (dir, goLog string) {
	t.Helper()
	dir = t.TempDir()
	for _, tool := range []string{"bash", "uname", "mkdir", "mktemp", "chmod", "mv", "rm", "grep", "wc", "cut",
		"find", "sort", "tr", "xargs", "cat", "dirname", "sha256sum", "shasum", "curl", "wget"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "curl")); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "wget")); err != nil {
			missingTool(t, "curl or wget")
		}
	}
	goLog = filepath.Join(t.TempDir(), "go.log")
	if withGo {
		script := "#!/bin/sh\necho \"$PWD: $*\" >> " + goLog + "\n" +
			"while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then printf '#!/bin/sh\\necho built\\n' > \"$2\"; fi; shift; done\n"
		if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, goLog
}

func missingTool(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (CI=true: a missing tool fails)", what)
	}
	t.Skipf("%s not found", what)
}

type getBinary struct {
	script string
	path   string
	cache  string
	env    map[string]string
}

func newGetBinary(t *testing.T, withGo bool) (*getBinary, string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		missingTool(t, "bash")
	}
	script, err := filepath.Abs(filepath.Join(repoRoot, "actions", "_lib", "get-binary.sh"))
	if err != nil {
		t.Fatal(err)
	}
	path, goLog := toolDir(t, withGo)
	gb := &getBinary{script: script, path: path, cache: t.TempDir(), env: map[string]string{}}
	return gb, goLog
}

// release sets what an action gives the script: its ref and repository,
// and (for the tests) where the release assets are downloaded from.
func (gb *getBinary) release(ref, base string) {
	gb.env["NEXT_DEPLOY_ACTION_REF"] = ref
	gb.env["NEXT_DEPLOY_ACTION_REPOSITORY"] = Repo
	gb.env["NEXT_DEPLOY_DOWNLOAD_BASE"] = base
}

func (gb *getBinary) run(t *testing.T) (status int, stdout, stderr string, took time.Duration) {
	t.Helper()
	cmd := exec.Command(filepath.Join(gb.path, "bash"), gb.script)
	cmd.Env = []string{"PATH=" + gb.path, "HOME=" + gb.cache, "RUNNER_TOOL_CACHE=" + gb.cache}
	for k, v := range gb.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		status = ee.ExitCode()
	}
	return status, out.String(), errb.String(), took
}

// wantNoGo fails the test when the fake go of toolDir was run; msg says
// why it should not have been.
func wantNoGo(t *testing.T, goLog, msg string) {
	t.Helper()
	if log, _ := os.ReadFile(goLog); len(log) != 0 {
		t.Errorf("%s: %s", msg, log)
	}
}

// regularFiles lists the regular files under dir.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			got = append(got, p)
		}
		return nil
	})
	return got
}

func assetName(tag string) string {
	return fmt.Sprintf("next-deploy_%s_%s_%s", tag, runtime.GOOS, runtime.GOARCH)
}

func checksumsTxt(entries map[string][]byte) []byte {
	var lines []string
	for name, data := range entries {
		sum := sha256.Sum256(data)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+name)
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}
