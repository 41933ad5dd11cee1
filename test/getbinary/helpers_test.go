package getbinary_test

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

const (
	repoRoot = "../.."
	// orgRepo is the repository the actions are published from.
	orgRepo = "org/next-deploy"
	// identity and namespace are what scripts/release-sign.sh signs with.
	identity  = "next-deploy-release"
	namespace = "next-deploy-release"
)

func missingTool(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (CI=true: a missing tool fails)", what)
	}
	t.Skipf("%s not found", what)
}

func sumOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func assetName(version string) string {
	return fmt.Sprintf("next-deploy_%s_%s_%s", version, runtime.GOOS, runtime.GOARCH)
}

func script(body string) []byte { return []byte("#!/bin/sh\necho " + body + "\n") }

// checksumsTxt is what sha256sum writes for the assets.
func checksumsTxt(assets map[string][]byte) []byte {
	var lines []string
	for name, data := range assets {
		lines = append(lines, sumOf(data)+"  "+name)
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// ---- keys ----

// sshKey is a throwaway ed25519 key pair made by ssh-keygen.
type sshKey struct {
	priv string // path of the private key
	pub  string // "ssh-ed25519 AAAA... comment"
}

func newKey(t *testing.T, comment string) sshKey {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		missingTool(t, "ssh-keygen")
	}
	priv := filepath.Join(t.TempDir(), "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", priv).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{priv: priv, pub: strings.TrimSpace(string(pub))}
}

// signers is an allowed_signers file trusting the key for releases.
func (k sshKey) signers() string {
	return fmt.Sprintf("%s namespaces=%q %s\n", identity, namespace, k.pub)
}

// sign is ssh-keygen -Y sign of data in namespace ns.
func (k sshKey) sign(t *testing.T, data []byte, ns string) []byte {
	t.Helper()
	f := filepath.Join(t.TempDir(), "checksums.txt")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-Y", "sign", "-f", k.priv, "-n", ns, f).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v: %s", err, out)
	}
	sig, err := os.ReadFile(f + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// publish is the files of a release of assets: the assets, checksums.txt
// and checksums.txt.sig signed by k.
func (k sshKey) publish(t *testing.T, assets map[string][]byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{"checksums.txt": checksumsTxt(assets)}
	files["checksums.txt.sig"] = k.sign(t, files["checksums.txt"], namespace)
	for name, data := range assets {
		files[name] = data
	}
	return files
}

// ---- the release downloads ----

// releases serves a repository's releases as GitHub's download URLs do:
// <base>/<tag>/<file>. Tests replace a tag's files between runs.
type releases struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte // "/<tag>/<file>"
	hits  []string
}

func newReleases(t *testing.T) *releases {
	t.Helper()
	rs := &releases{files: map[string][]byte{}}
	rs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.hits = append(rs.hits, r.URL.Path)
		data, ok := rs.files[r.URL.Path]
		rs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(rs.srv.Close)
	return rs
}

// put makes files the whole of release tag.
func (rs *releases) put(tag string, files map[string][]byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for p := range rs.files {
		if strings.HasPrefix(p, "/"+tag+"/") {
			delete(rs.files, p)
		}
	}
	for name, data := range files {
		rs.files["/"+tag+"/"+name] = data
	}
}

// requests are the paths asked for since the last call.
func (rs *releases) requests() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	got := rs.hits
	rs.hits = nil
	return got
}

// ---- the action and the runner ----

// action is a copy of the action's tree as the runner unpacks it: the real
// get-binary.sh next to a release-signers file of the test's.
type action struct {
	root   string
	script string
	repo   string // github.action_repository; "" to leave it unset
	ref    string // github.action_ref
	base   string // the repository's release downloads
}

func newAction(t *testing.T, root, repo, ref, signers string, rs *releases) *action {
	t.Helper()
	lib := filepath.Join(root, "actions", "_lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(repoRoot, "actions", "_lib", "get-binary.sh"), filepath.Join(lib, "get-binary.sh"))
	if err := os.WriteFile(filepath.Join(lib, "release-signers"), []byte(signers), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &action{root: root, script: filepath.Join(lib, "get-binary.sh"), repo: repo, ref: ref}
	if rs != nil {
		a.base = rs.srv.URL
	}
	return a
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// runner is one self-hosted runner: a tool cache kept across jobs, a
// RUNNER_TEMP emptied for each job, a PATH with only what the script needs.
type runner struct {
	path, goLog      string
	cache, temp, tmp string
	home             string
}

func newRunner(t *testing.T, withGo bool) *runner {
	t.Helper()
	r := &runner{path: t.TempDir(), cache: t.TempDir(), tmp: t.TempDir(), home: t.TempDir()}
	for _, tool := range []string{"bash", "uname", "mkdir", "mktemp", "chmod", "mv", "rm", "grep", "wc", "cut",
		"find", "sort", "tr", "xargs", "cat", "dirname", "sleep", "sha256sum", "shasum", "curl", "wget", "ssh-keygen"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(r.path, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, need := range [][]string{{"bash"}, {"ssh-keygen"}, {"sleep"}, {"curl", "wget"}} {
		if !slices.ContainsFunc(need, func(tool string) bool { _, err := os.Stat(filepath.Join(r.path, tool)); return err == nil }) {
			missingTool(t, strings.Join(need, " or "))
		}
	}
	r.goLog = filepath.Join(t.TempDir(), "go.log")
	if withGo {
		// A fake go: records where and how it ran, writes a tiny program to -o.
		fake := "#!/bin/sh\necho \"$PWD: $*\" >> " + r.goLog + "\n" +
			"while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then printf '#!/bin/sh\\necho built\\n' > \"$2\"; fi; shift; done\n"
		if err := os.WriteFile(filepath.Join(r.path, "go"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.newJob(t)
	return r
}

// newJob starts the next job: the runner gives it an empty RUNNER_TEMP.
func (r *runner) newJob(t *testing.T) { r.temp = t.TempDir() }

// goRuns is what the fake go recorded, then forgets it.
func (r *runner) goRuns(t *testing.T) string {
	t.Helper()
	log, _ := os.ReadFile(r.goLog)
	os.Remove(r.goLog)
	return string(log)
}

type result struct {
	status         int
	stdout, stderr string
	took           time.Duration
}

func (res result) path() string { return strings.TrimSuffix(res.stdout, "\n") }

// run runs get-binary.sh of a as a step of the current job does.
func (r *runner) run(t *testing.T, a *action) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(r.path, "bash"), a.script)
	cmd.Env = []string{"PATH=" + r.path, "HOME=" + r.home, "TMPDIR=" + r.tmp,
		"RUNNER_TOOL_CACHE=" + r.cache, "RUNNER_TEMP=" + r.temp}
	if a.ref != "" || a.repo != "" {
		cmd.Env = append(cmd.Env, "NEXT_DEPLOY_ACTION_REF="+a.ref, "NEXT_DEPLOY_ACTION_REPOSITORY="+a.repo)
	}
	if a.base != "" {
		cmd.Env = append(cmd.Env, "NEXT_DEPLOY_DOWNLOAD_BASE="+a.base)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		res.status = ee.ExitCode()
	}
	if left, _ := os.ReadDir(r.tmp); len(left) != 0 {
		t.Errorf("get-binary.sh left %v in TMPDIR", left)
	}
	return res
}

// cached is where the tool cache keeps the release binary of version.
func (r *runner) cached(repo, version string) string {
	return filepath.Join(r.cache, "next-deploy", repo, version, runtime.GOOS+"-"+runtime.GOARCH, "next-deploy")
}

// regularFiles lists the regular files under dir.
func regularFiles(dir string) []string {
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			got = append(got, p)
		}
		return nil
	})
	return got
}

// wantRefused: the run failed with an annotation holding every want, and
// printed no path.
func wantRefused(t *testing.T, res result, wants ...string) {
	t.Helper()
	t.Logf("refused:\n%s", res.stderr)
	if res.status != 1 || res.stdout != "" {
		t.Errorf("status %d, stdout %q, want 1 and no path", res.status, res.stdout)
	}
	for _, want := range append([]string{"::error title=next-deploy binary::"}, wants...) {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
}

// wantRuns: the run printed path, and the program there prints output.
func wantRuns(t *testing.T, res result, path, output string) {
	t.Helper()
	if res.status != 0 || res.stdout != path+"\n" {
		t.Fatalf("status %d, stdout %q, want 0 and %q; stderr:\n%s", res.status, res.stdout, path, res.stderr)
	}
	out, err := exec.Command(path).Output()
	if err != nil || strings.TrimSpace(string(out)) != output {
		t.Errorf("%s printed %q (%v), want %q", path, out, err, output)
	}
}
