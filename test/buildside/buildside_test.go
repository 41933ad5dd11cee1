package buildside

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
)

// TestBuildSide runs, per variant: the build's outputs, the HTML's asset
// prefix, the static copy, pack (twice), the system's tar, and the
// standalone server.
func TestBuildSide(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			b := v.build(t)
			t.Run("build outputs", func(t *testing.T) { checkBuild(t, v, b) })
			t.Run("html references release assets", func(t *testing.T) { checkHTML(t, v, b) })
			t.Run("static copied idempotently", func(t *testing.T) { checkStatic(t, b) })
			artifact := packTwice(t, v, b)
			dir := extractWithTar(t, artifact)
			t.Run("server answers", func(t *testing.T) { checkServer(t, v, filepath.Join(dir, filepath.FromSlash(v.appDir))) })
		})
	}
}

func checkBuild(t *testing.T, v *variant, b *built) {
	got := b.build
	if got.AppDir != v.appDir || got.Release != v.release || !got.Installed {
		t.Errorf("build-standalone reported %+v; want app dir %s, release %s, installed", got, v.appDir, v.release)
	}
	if got.PeakMiB < 100 || got.Seconds <= 0 || got.HTMLChecked == 0 {
		t.Errorf("build-standalone measured peak %d MiB, %.1fs, %d pages checked", got.PeakMiB, got.Seconds, got.HTMLChecked)
	}
	t.Logf("%s: next build %.1fs, peak memory of the process tree %d MiB", v.name, got.Seconds, got.PeakMiB)
	// next runs through npm (npx) as a package.json script would, and
	// next.config was read through Next's loader before the build.
	if got.NextCommand != "npx --no-install next build" || got.NextConfig == nil || got.NextConfig.Output != "standalone" {
		t.Errorf("next started as %q, resolved config %+v; want npx --no-install next build and output standalone", got.NextCommand, got.NextConfig)
	}
	for name, want := range map[string]string{
		"standalone-dir": got.StandaloneDir, "app-dir": v.appDir, "release": v.release,
		"peak-memory-mib": fmt.Sprint(got.PeakMiB),
	} {
		if b.outputs[name] != want {
			t.Errorf("output %s = %q, want %q", name, b.outputs[name], want)
		}
	}
	if b.outputs["duration-seconds"] == "" {
		t.Error("no duration-seconds output")
	}
	if _, err := os.Stat(filepath.Join(got.StandaloneDir, filepath.FromSlash(v.appDir), "server.js")); err != nil {
		t.Error(err)
	}
}

func checkHTML(t *testing.T, v *variant, b *built) {
	html, err := os.ReadFile(filepath.Join(b.build.StandaloneDir, filepath.FromSlash(v.appDir), ".next/server/app/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("/"+v.release+"/_next/static/")) {
		t.Errorf("index.html does not load /%s/_next/static/", v.release)
	}
}

func checkStatic(t *testing.T, b *built) {
	if b.staticRuns[0] != b.staticRuns[1] {
		t.Error("a second postbuild-copy-static changed the standalone tree")
	}
	server := filepath.Join(b.build.StandaloneDir, filepath.FromSlash(b.build.AppDir))
	for _, p := range []string{"public/images/rack.png", "public/robots.txt", ".next/static/chunks"} {
		if _, err := os.Stat(filepath.Join(server, p)); err != nil {
			t.Errorf("not copied: %v", err)
		}
	}
}

type packJSON struct {
	Artifact string   `json:"artifact"`
	SHA256   string   `json:"sha256"`
	Bytes    int64    `json:"bytes"`
	Files    int      `json:"files"`
	AppDir   string   `json:"app_dir"`
	Excluded []string `json:"excluded"`
}

// packTwice packs the tree into two directories: same bytes both times.
func packTwice(t *testing.T, v *variant, b *built) string {
	var runs [2]packJSON
	for i := range runs {
		out := filepath.Join(work, fmt.Sprintf("%s-pack-%d", v.name, i))
		stdout, stderr, err := nextDeploy(t, nil, "pack", "--source", b.build.StandaloneDir, "--release", v.release, "--output-dir", out, "--json")
		if err != nil {
			t.Fatalf("pack: %v\n%s", err, stderr)
		}
		if _, err := cli.DecodeEnvelope([]byte(stdout), &runs[i]); err != nil {
			t.Fatalf("pack --json: %v\n%s", err, stdout)
		}
	}
	r := runs[0]
	t.Logf("%s: %s, %d bytes, %d files, sha256 %s", v.name, filepath.Base(r.Artifact), r.Bytes, r.Files, r.SHA256)
	if runs[1].SHA256 != r.SHA256 {
		t.Errorf("two packs of one tree differ: %s and %s", r.SHA256, runs[1].SHA256)
	}
	if r.AppDir != v.appDir {
		t.Errorf("pack found app dir %q, want %q", r.AppDir, v.appDir)
	}
	wantExcluded := strings.TrimPrefix(v.appDir+"/.next/cache", "./")
	if len(r.Excluded) != 1 || r.Excluded[0] != wantExcluded {
		t.Errorf("excluded %q, want [%s]", r.Excluded, wantExcluded)
	}
	check := exec.Command("sha256sum", "-c", filepath.Base(r.Artifact)+".sha256")
	check.Dir = filepath.Dir(r.Artifact)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v: %s", err, out)
	}
	list, err := exec.Command("tar", "-tf", r.Artifact).Output()
	if err != nil {
		t.Fatalf("tar -tf: %v", err)
	}
	if strings.Contains(string(list), ".next/cache") {
		t.Error("the artifact holds .next/cache")
	}
	return r.Artifact
}

// extractWithTar unpacks with the system's tar, as a server would.
func extractWithTar(t *testing.T, artifact string) string {
	dir := filepath.Join(work, strings.TrimSuffix(filepath.Base(artifact), ".tar.zst")+"-extracted")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", artifact, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v: %s", err, out)
	}
	return dir
}

func checkServer(t *testing.T, v *variant, appDir string) {
	base := startServer(t, appDir)
	client := &http.Client{Timeout: 10 * time.Second}
	var health struct{ Release string }
	if err := json.Unmarshal(get(t, client, base+"/api/health", 200), &health); err != nil || health.Release != v.release {
		t.Errorf("/api/health: release %q (%v), want %q", health.Release, err, v.release)
	}
	home := get(t, client, base+"/", 200)
	chunk := regexp.MustCompile(`/` + v.release + `/_next/static/[^"?]+\.js`).Find(home)
	if chunk == nil {
		t.Fatalf("/ references no script under /%s/_next/static/", v.release)
	}
	get(t, client, base+string(chunk), 200)
	for _, p := range []string{"/about", "/blog", "/blog/zero-downtime", "/products/3", "/counter", "/contact", "/gallery", "/docs?q=x", "/images/rack.png", "/robots.txt"} {
		get(t, client, base+p, 200)
	}
	get(t, client, base+"/blog/no-such-post", 404)
	resp, err := client.Post(base+"/api/echo", "application/json", strings.NewReader(`{"n":42}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"echo":{"n":42}`)) {
		t.Errorf("POST /api/echo: %d %s", resp.StatusCode, body)
	}
}

// startServer starts node server.js on a free port and stops it (its
// whole process group, by pid) when the test ends.
func startServer(t *testing.T, appDir string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var log bytes.Buffer
	cmd := exec.Command("node", "server.js")
	cmd.Dir = appDir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "HOSTNAME=127.0.0.1", "NODE_ENV=production")
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(base + "/api/health")
		if err == nil {
			resp.Body.Close()
			return base
		}
		select {
		case err := <-exited:
			t.Fatalf("server.js exited: %v\n%s", err, log.String())
		case <-ctx.Done():
			t.Fatalf("server.js did not answer in 30s: %v\n%s", errors.Join(err, ctx.Err()), log.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func get(t *testing.T, c *http.Client, url string, want int) []byte {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	return body
}
