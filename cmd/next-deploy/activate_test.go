package main

import (
	"flag"
	"strings"
	"testing"
	"time"

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
		{"activate, a bad share and canary", []string{"activate", "--hosts", "deploy@" + addr, "--release", "r1",
			"--batch", "150%", "--canary", "-1"},
			[]string{"--batch 150%: want 1% to 100%", "--canary -1: want 0 (off) or a number of hosts"}},
		{"activate, a canary watched for no time", []string{"activate", "--hosts", "deploy@" + addr, "--release", "r1",
			"--batch", "half", "--canary", "1", "--canary-time", "0s"},
			[]string{`--batch "half": want a number of hosts like 2, or a share of them like 25%`, "--canary-time 0s: want more than 0"}},
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

// --batch takes a count or a share of the hosts; the share becomes a
// count of the hosts given.
func TestRolloutBatchShare(t *testing.T) {
	for _, tc := range []struct {
		batch string
		hosts int
		want  int
	}{
		{"1", 16, 1},
		{"3", 16, 3},
		{"25%", 16, 4},
		{"25%", 64, 16},
		{"25%", 2, 1},
		{"50%", 3, 2},
	} {
		r := rolloutFlags{batch: tc.batch, onFailure: "rollback-all", ecosystem: "ecosystem.config.js",
			healthURL: "http://127.0.0.1:3000/", healthTimeout: time.Minute}
		r.app.register(flag.NewFlagSet("x", flag.ContinueOnError), false)
		if _, err := r.check(nil); err != nil {
			t.Fatalf("--batch %s: %v", tc.batch, err)
		}
		if got := r.share.Of(tc.hosts); got != tc.want {
			t.Errorf("--batch %s of %d hosts = %d, want %d", tc.batch, tc.hosts, got, tc.want)
		}
	}
}
