package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// The secrets a runner hands next-deploy, and RUNNER_TRACKING_ID (a
// self-hosted runner kills every process carrying it when the job ends).
var secretEnv = map[string]string{
	"INPUT_SSH_KEY":              "secret-marker-input-key",
	"INPUT_SSH_PASSPHRASE":       "secret-marker-input-passphrase",
	"NEXT_DEPLOY_SSH_KEY":        "secret-marker-env-key",
	"NEXT_DEPLOY_SSH_PASSPHRASE": "secret-marker-env-passphrase",
	"GITHUB_TOKEN":               "secret-marker-github-token",
	"RUNNER_TRACKING_ID":         "secret-marker-tracking-id",
}

// TestLocalActivateLeavesNoSecret: `activate --hosts local` run as the
// host's user in a GitHub Actions environment holding the SSH key and
// passphrase (as inputs and as NEXT_DEPLOY_SSH_*), GITHUB_TOKEN and
// RUNNER_TRACKING_ID: neither the values nor RUNNER_TRACKING_ID reach any
// process of that user (the pm2 daemon, every worker) through
// /proc/<pid>/environ, nor ~/.pm2/dump.pm2 or any file under ~/.pm2 and
// the deploy root; both the first start and a reload are checked.
func TestLocalActivateLeavesNoSecret(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 1, PM2: true})
	h := b.Hosts[0]
	s := actTiny{}
	for i, id := range []string{"sec1", "sec2"} {
		s.ship(t, b, id, false)
		secretActivate(t, b, h, id)
		workers := secretScan(t, b, h)
		if workers < 3 {
			t.Errorf("activation %d: scanned %d processes of %s, want the pm2 daemon and 2 workers", i+1, workers, h.User)
		}
	}
}

// secretActivate runs activate --hosts local as h's user with the secrets
// in its environment.
func secretActivate(t *testing.T, b *bed.Bed, h *bed.Host, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := b.CommandAs(h, actBinary(t), "activate", "--hosts", "local", "--path", "~/app", "--release", id,
		"--hostname", h.Addr, "--health-url", "http://"+h.Addr+":3000/", "--health-timeout", "30s")
	cmd.Env = append(cmd.Env, "GITHUB_ACTIONS=true", "GITHUB_OUTPUT="+filepath.Join(h.Home, "github_output"))
	for k, v := range secretEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("activate --hosts local %s: %v\n%s", id, err, out.String())
		}
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("activate --hosts local %s did not end in 3 minutes\n%s", id, out.String())
	}
}

// secretScan checks every process of h's user and every file under its
// pm2 home and deploy root for the secrets; it returns how many processes
// it read.
func secretScan(t *testing.T, b *bed.Bed, h *bed.Host) int {
	t.Helper()
	uid := strings.TrimSpace(b.RunAs(t, h, `id -u`))
	n := 0
	for _, pid := range userPIDs(uid) {
		environ, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil {
			continue // gone
		}
		n++
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		what := "pid " + pid + " (" + strings.ReplaceAll(string(bytes.TrimRight(cmdline, "\x00")), "\x00", " ") + ")"
		secretCheck(t, what+" environ", environ)
		if bytes.Contains(environ, []byte("RUNNER_TRACKING_ID=")) {
			t.Errorf("%s carries RUNNER_TRACKING_ID: a self-hosted runner kills it when the job ends", what)
		}
	}
	dump := filepath.Join(h.PM2Home, "dump.pm2")
	if _, err := os.Stat(dump); err != nil {
		t.Errorf("no %s: pm2 save did not run, the test proves less: %v", dump, err)
	}
	for _, dir := range []string{h.PM2Home, h.DeployPath} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if body, err := os.ReadFile(p); err == nil {
				secretCheck(t, p, body)
			}
			return nil
		})
	}
	return n
}

func secretCheck(t *testing.T, what string, body []byte) {
	t.Helper()
	for k, v := range secretEnv {
		if bytes.Contains(body, []byte(v)) {
			t.Errorf("%s holds the value of %s", what, k)
		}
	}
}

// userPIDs lists the processes whose real user id is uid.
func userPIDs(uid string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == uid {
				out = append(out, e.Name())
			}
		}
	}
	return out
}
