package e2e

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// The fault tests (docs/faults.md) each cause one fault a user fears on
// the bed and assert the same three things: current keeps serving (a load
// sees 0 failed requests), nothing half-written is visible (no
// releases/<id> without its manifest, no upload left behind) and no
// deploy lock is left on a reachable host; and the command's exit status
// and message name the host at fault. The releases are the tiny
// Next-like server of pm2test: the faults are about the pipeline, not Next.

// faultBed is actBed with n hosts.
func faultBed(t *testing.T, n int) *bed.Bed {
	t.Helper()
	return bed.Start(t, bed.Options{Hosts: n, PM2: true, Nginx: true, StaticLocation: func(h *bed.Host) string {
		loc, err := nginx.StaticLocation(nginx.Config{Root: h.DeployPath, Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
		if err != nil {
			t.Fatalf("config nginx for %s: %v", h.Name(), err)
		}
		return loc
	}})
}

// faultStart is actStart with variables added to the CLI's environment
// (e.g. a run URL per run, to tell two runs' locks apart).
func faultStart(t *testing.T, b *bed.Bed, env []string, args ...string) *actRun {
	t.Helper()
	args = append(args, "--hosts", b.HostsFlag(), "--path", "~/app",
		"--known-hosts-file", b.KnownHostsFile, "--ssh-key-file", b.ClientKeyFile)
	r := &actRun{done: make(chan struct{})}
	r.cmd = exec.Command(actBinary(t), args...)
	r.cmd.Env = append(append(os.Environ(), "GITHUB_ACTIONS=", "SSH_AUTH_SOCK="), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		r.status = r.cmd.ProcessState.ExitCode()
		if err != nil && r.status == 0 {
			r.status = -1
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// faultArtifact packs a pm2test release tree, with files replaced or added
// and blob bytes of random (incompressible) content in blob.bin, with the
// CLI (pack, gz) and returns the artifact's path.
func faultArtifact(t *testing.T, id string, replace map[string]string, blob int) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), id)
	files := pm2test.Release{ID: id}.Files()
	for name, body := range replace {
		files[name] = body
	}
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if blob > 0 {
		f, err := os.Create(filepath.Join(src, "blob.bin"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for left := blob; left > 0; left -= len(buf) {
			_, _ = rand.Read(buf)
			if _, err := f.Write(buf[:min(left, len(buf))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	actLocal(t, "pack", "--source", src, "--release", id, "--format", "gz", "--level", "1", "--output-dir", out)
	return filepath.Join(out, id+".tar.gz")
}

// faultIntact checks the hosts given (the reachable ones): every entry of
// releases/ is a complete release (its manifest is there), no upload or
// removal is left half-done, and no deploy lock is held.
func faultIntact(t *testing.T, hosts ...*bed.Host) {
	t.Helper()
	for _, h := range hosts {
		dir := filepath.Join(h.DeployPath, release.ReleasesDir)
		des, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, de := range des {
			name := de.Name()
			if strings.HasPrefix(name, ".") {
				t.Errorf("%s: releases/%s is left behind (a half-done upload or removal)", h.Name(), name)
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, name, release.ManifestPath)); err != nil {
				t.Errorf("%s: releases/%s is visible without its manifest (half-written)", h.Name(), name)
			}
		}
		if left := faultLocks(t, h); len(left) > 0 {
			t.Errorf("%s: deploy lock left: %v", h.Name(), left)
		}
	}
}

// releasesDir lists the names in h's releases/, sorted.
func releasesDir(t *testing.T, h *bed.Host) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(h.DeployPath, release.ReleasesDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// faultLocks lists the deploy lock and its temporary names on h.
func faultLocks(t *testing.T, h *bed.Host) []string {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(h.DeployPath, release.StateDir, release.LockDir+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// faultHostLoad is load straight to one host's nginx (not through the
// balancer): it tells that host's serving apart from the others'.
func faultHostLoad(h *bed.Host, chunks []string) *pm2test.Run {
	return pm2test.Load{BaseURL: "http://" + h.NginxAddr, Workers: 3, Chunks: chunks}.Start(context.Background())
}

// faultStopLoad stops a load and fails the test on any failed request.
func faultStopLoad(t *testing.T, what string, l *pm2test.Run) {
	t.Helper()
	st := l.Stop()
	t.Logf("load %s: %s", what, st)
	if st.Failures != 0 || st.Requests == 0 {
		t.Errorf("load %s: %s; want requests and 0 failed: %v", what, st, st.Errors)
	}
}

// faultActivate runs activate of id with the bed's flags and extra ones
// and returns its exit status and output.
func faultActivate(t *testing.T, b *bed.Bed, id string, extra ...string) (int, string) {
	t.Helper()
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", id}, actFlags(extra...)...)...)
	return status, out + errOut
}

// faultWait waits for a run, at most d, and returns its status and output.
func faultWait(t *testing.T, r *actRun, d time.Duration) (int, string) {
	t.Helper()
	status := r.wait(t, d)
	return status, r.stdout.String() + r.stderr.String()
}
