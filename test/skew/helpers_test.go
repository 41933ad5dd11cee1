package skew

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
	ndbuild "github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/test/bed"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary is the next-deploy CLI, built once.
func binary(t *testing.T, work string) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(work, "next-deploy")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/org/next-deploy/cmd/next-deploy").CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// local runs a CLI step that touches no host and returns its stdout.
func local(t *testing.T, work string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t, work), args...)
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("next-deploy %s: %v\n%s", args[0], err, stderr.String())
	}
	return string(out)
}

// onBed runs the CLI against every host of the bed and returns its exit
// status, stdout and stderr.
func onBed(t *testing.T, work string, b *bed.Bed, args ...string) (int, string, string) {
	t.Helper()
	args = append(args, "--hosts", b.HostsFlag(), "--path", "~/app",
		"--known-hosts-file", b.KnownHostsFile, "--ssh-key-file", b.ClientKeyFile)
	cmd := exec.Command(binary(t, work), args...)
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=", "SSH_AUTH_SOCK=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("next-deploy %s did not end within 5m; stderr:\n%s", args[0], stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// mustOnBed is onBed that fails the test on a non-zero exit.
func mustOnBed(t *testing.T, work string, b *bed.Bed, args ...string) string {
	t.Helper()
	status, stdout, stderr := onBed(t, work, b, args...)
	if status != 0 {
		t.Fatalf("next-deploy %s: exit %d\n%s\n%s", strings.Join(args, " "), status, stdout, stderr)
	}
	return stdout
}

// activateFlags are activate's flags on the bed: each host's app listens
// on its own address, the health check asks it there.
func activateFlags(id string, extra ...string) []string {
	return append([]string{"activate", "--release", id, "--hostname", "{host}",
		"--health-url", "http://{host}:3000/", "--health-timeout", "60s"}, extra...)
}

// build builds the fixture as release id with the CLI (build-standalone,
// postbuild-copy-static) and packs it into work/artifacts/<id>.tar.zst;
// it returns the release's static chunks (under .next/static/<id>/) as
// the load requests them.
func build(t *testing.T, work, id string) []string {
	t.Helper()
	dir := filepath.Join(work, id)
	copyFixture(t, dir)
	out := local(t, work, "build-standalone", "--dir", dir, "--release", id, "--install", "auto", "--json")
	var built struct {
		StandaloneDir string `json:"standalone_dir"`
		AppDir        string `json:"app_dir"`
	}
	if _, err := cli.DecodeEnvelope([]byte(out[strings.Index(out, "{"):]), &built); err != nil {
		t.Fatalf("build-standalone --json: %v\n%s", err, out)
	}
	local(t, work, "postbuild-copy-static", "--dir", dir)
	local(t, work, "pack", "--source", built.StandaloneDir, "--release", id, "--output-dir", filepath.Join(work, "artifacts"))
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
	return chunks
}

// copyFixture copies the fixture's sources (not node_modules, not .next).
func copyFixture(t *testing.T, dst string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	if err := ndbuild.CopySources(filepath.Join(filepath.Dir(file), "..", "fixtures", "next-app"), dst); err != nil {
		t.Fatal(err)
	}
}

// startBed starts two hosts with pm2, each behind the nginx of
// next-deploy config nginx (skew routing included), and the balancer.
func startBed(t *testing.T) *bed.Bed {
	t.Helper()
	return bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true, HTTP: func(h *bed.Host) string {
		conf, err := nginx.Render(nginx.Config{Root: h.DeployPath, Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
		if err != nil {
			t.Fatalf("config nginx for %s: %v", h.Name(), err)
		}
		return string(conf)
	}})
}

// worker is what status --json says of a worker.
type worker struct {
	App       string    `json:"app"`
	Release   string    `json:"release"`
	Status    string    `json:"status"`
	RSS       int64     `json:"rss"`
	Kept      bool      `json:"kept"`
	KeptUntil time.Time `json:"kept_until"`
}

// workers reads status --json: every host's workers, then its kept apps'.
func workers(t *testing.T, work string, b *bed.Bed) map[string][]worker {
	t.Helper()
	out := mustOnBed(t, work, b, "status", "--json")
	var hosts []struct {
		Host    string   `json:"host"`
		Workers []worker `json:"workers"`
		Kept    []worker `json:"kept"`
	}
	if _, err := cli.DecodeEnvelope([]byte(out), &hosts); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	m := map[string][]worker{}
	for _, h := range hosts {
		for _, w := range h.Kept {
			if !w.Kept {
				t.Errorf("status --json of %s: %+v among the kept workers has kept false", h.Host, w)
			}
		}
		m[h.Host] = append(h.Workers, h.Kept...)
	}
	return m
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
