package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/test/bed"
)

// An operator's laptop: next-deploy.yml names the hosts by their
// ~/.ssh/config aliases and the path; ~/.ssh/config gives HostName, Port,
// User, IdentityFile and, for h1, ProxyJump; ~/.ssh/known_hosts verifies
// them. releases --env staging needs no other flag.
func TestReleasesEnvOverSSHConfigAliases(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 2, Jump: true})
	b.RunAs(t, b.Hosts[0], seedReleases)
	home := t.TempDir()
	t.Setenv("HOME", home)
	sshDir := filepath.Join(home, ".ssh")
	clientCfg, err := os.ReadFile(b.SSHConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	clientCfg = append([]byte("Host h1\n  ProxyJump jump\n"), clientCfg...)
	kh, err := os.ReadFile(b.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"config": clientCfg, "known_hosts": kh} {
		if err := os.WriteFile(filepath.Join(sshDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(t.TempDir())
	file := "environments:\n  staging:\n    hosts: [h0, h1]\n    path: ~/app\n"
	if err := os.WriteFile(config.FileName, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runCLI(t, nil, "releases", "--env", "staging")
	if status != cli.ExitOK {
		t.Fatalf("status %d; stderr:\n%s", status, stderr)
	}
	for _, want := range []string{
		b.Hosts[0].Target(), b.Hosts[1].Target(), // aliases resolved
		"9f8e7d6", "current", "1a2b3c4", "previous", "no releases",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "error") {
		t.Errorf("a host failed:\n%s", stdout)
	}
}
