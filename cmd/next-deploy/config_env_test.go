package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
)

// releases --env staging needs no other flag: hosts and path come from
// next-deploy.yml in the current directory (here the local host, whose
// ~/app is seeded as deliver and activate leave it).
func TestReleasesEnvNeedsNoOtherFlag(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	seed := exec.Command("sh", "-c", seedReleases)
	seed.Env = append(os.Environ(), "HOME="+home)
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	app := t.TempDir()
	t.Chdir(app)
	file := "path: /nowhere\nenvironments:\n  staging:\n    hosts: [local]\n    path: ~/app\n  production:\n    hosts: [deploy@web1.example.com]\n"
	if err := os.WriteFile(filepath.Join(app, config.FileName), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runCLI(t, nil, "releases", "--env", "staging")
	if status != cli.ExitOK {
		t.Fatalf("status %d; stderr:\n%s", status, stderr)
	}
	for _, want := range []string{"releases in ~/app", "9f8e7d6", "current", "1a2b3c4", "previous"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// An environment the file lacks: exit 2, naming the place and the
	// environments there are, before any host is touched.
	status, _, stderr = runCLI(t, nil, "releases", "--env", "prod")
	if status != cli.ExitUsage || !strings.Contains(stderr, `next-deploy.yml:2:1: no environment "prod" (the file has: staging, production)`) {
		t.Errorf("--env prod: status %d:\n%s", status, stderr)
	}
}
