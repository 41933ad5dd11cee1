package main

import (
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
)

func TestRolloutBadInputExits2TouchingNoHost(t *testing.T) {
	addr, conns := listener(t)
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"activate, every problem at once", []string{"activate", "--hosts", "deploy@" + addr, "--release", "../x",
			"--on-failure", "pray", "--batch", "0", "--ecosystem", "releases/a/eco.js", "--health-url", "https://{host}/",
			"--health-timeout", "0s", "--pm2-env", "prod env", "--port", "0"},
			[]string{"--release", "--on-failure", "--batch", "--ecosystem", "--health-url", "--health-timeout", "--pm2-env", "port 0"}},
		{"activate without a release", []string{"activate", "--hosts", "deploy@" + addr}, []string{"--release is required"}},
		{"rollback to a bad id", []string{"rollback", "--hosts", "deploy@" + addr, "--to", "a/b"}, []string{"--to"}},
		{"prune", []string{"prune", "--hosts", "deploy@" + addr, "--keep", "0", "--keep-days", "-1", "--release", "-x"}, []string{"--keep 0", "--keep-days", "--release"}},
		{"prune with arguments", []string{"prune", "--hosts", "deploy@" + addr, "extra"}, []string{"unexpected arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, stderr := runCLI(t, map[string]string{}, tc.args...)
			if status != cli.ExitUsage {
				t.Errorf("status %d, want 2; stderr:\n%s", status, stderr)
			}
			for _, m := range tc.mention {
				if !strings.Contains(stderr, m) {
					t.Errorf("stderr does not mention %s:\n%s", m, stderr)
				}
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections made on bad input", n)
	}
}
