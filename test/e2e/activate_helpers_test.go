package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// The activation end-to-end tests drive the real CLI binary (built once
// per test binary) against the bed: 2 hosts with sshd, pm2 and nginx (its
// static location from `next-deploy config nginx`), an L4 balancer in
// front. Releases come from a actShipper: the tiny Next-like server
// (pm2test) here; the fixture's real `next build` is a actShipper that builds
// and delivers with the CLI (build-standalone, postbuild-copy-static,
// pack, deliver) and returns the chunk URLs of its pages.

// actShipper puts release id on every host of the bed.
type actShipper interface {
	ship(t *testing.T, b *bed.Bed, id string, crash bool)
	// chunks are static URL paths that belong to release id only.
	chunks(id string) []string
}

// actTiny delivers pm2test releases through release.Layout.Receive.
type actTiny struct{}

func (actTiny) ship(t *testing.T, b *bed.Bed, id string, crash bool) {
	t.Helper()
	ctx := context.Background()
	for _, h := range b.Hosts {
		host, err := pm2test.Dial(ctx, h.Target(), b.KnownHostsFile, b.ClientKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		err = pm2test.Release{ID: id, Crash: crash}.Deliver(ctx, host, release.Layout{Root: "~/app"})
		host.Close()
		if err != nil {
			t.Fatalf("deliver %s to %s: %v", id, h.Name(), err)
		}
	}
}

func (actTiny) chunks(id string) []string {
	return []string{pm2test.Release{ID: id}.ChunkPath()}
}

// actBed starts 2 hosts with pm2 and nginx, whose static location is
// the product's own (config nginx).
func actBed(t *testing.T) *bed.Bed {
	t.Helper()
	return bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true, StaticLocation: func(h *bed.Host) string {
		loc, err := nginx.StaticLocation(nginx.Config{Root: h.DeployPath, Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
		if err != nil {
			t.Fatalf("config nginx for %s: %v", h.Name(), err)
		}
		return loc
	}})
}

var (
	actBuildOnce sync.Once
	actBinPath   string
	actBuildErr  error
)

// actBinary builds cmd/next-deploy once per test binary, into a
// directory of its own (TestMain removes it): a path shared by every test
// binary of the machine let another worktree's build replace the CLI
// under a running test.
func actBinary(t *testing.T) string {
	t.Helper()
	actBuildOnce.Do(func() {
		dir := actBinDir()
		if actBuildErr = os.MkdirAll(dir, 0o755); actBuildErr != nil {
			return
		}
		actBinPath = filepath.Join(dir, "next-deploy")
		cmd := exec.Command("go", "build", "-o", actBinPath, "github.com/org/next-deploy/cmd/next-deploy")
		if out, err := cmd.CombinedOutput(); err != nil {
			actBuildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if actBuildErr != nil {
		t.Fatal(actBuildErr)
	}
	return actBinPath
}

// actRun is one run of the CLI.
type actRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	status         int
}

// actStart starts the CLI with the bed's connection flags added.
func actStart(t *testing.T, b *bed.Bed, args ...string) *actRun {
	t.Helper()
	return faultStart(t, b, nil, args...)
}

// wait waits for the run to end, at most d.
func (r *actRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.status
	case <-time.After(d):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("next-deploy %s did not end within %s; stderr:\n%s", strings.Join(r.cmd.Args[1:3], " "), d, r.stderr.String())
		return -1
	}
}

// actFlags are activate's and rollback's flags for the bed: each host's
// app listens on its own address, the health check asks it there.
func actFlags(extra ...string) []string {
	return append([]string{"--hostname", "{host}", "--health-url", "http://{host}:3000/", "--health-timeout", "30s"}, extra...)
}

// cli runs the CLI to its end and returns its exit status and output.
func actCLI(t *testing.T, b *bed.Bed, args ...string) (int, string, string) {
	t.Helper()
	r := actStart(t, b, args...)
	status := r.wait(t, 5*time.Minute)
	return status, r.stdout.String(), r.stderr.String()
}

// actHostGet GETs path from one host's nginx.
func actHostGet(t *testing.T, h *bed.Host, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + h.NginxAddr + path)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", path, h.Name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", path, h.Name(), err)
	}
	return resp.StatusCode, string(body)
}

// actCurrent reads where a host's current points.
func actCurrent(t *testing.T, b *bed.Bed, h *bed.Host) string {
	t.Helper()
	return strings.TrimPrefix(strings.TrimSpace(b.RunAs(t, h, `readlink ~/app/current || true`)), "releases/")
}

// actLoad starts the load through the balancer: pages, POSTs and the
// chunks given.
func actLoad(b *bed.Bed, chunks []string) *pm2test.Run {
	return pm2test.Load{BaseURL: "http://" + b.BalancerAddr, Workers: 6, Chunks: chunks}.Start(context.Background())
}
