package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/golden"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/pm2"
)

func TestConfigGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"config-pm2.golden.js", []string{"config", "pm2", "--path", "/srv/app", "--name", "shop", "--instances", "max", "--envs", "production,staging"}},
		{"config-pm2-home.golden.js", []string{"config", "pm2", "--path", "~/app", "--app-dir", "apps/web", "--hostname", "127.0.0.11", "--port", "3001"}},
		{"config-nginx.golden.conf", []string{"config", "nginx", "--path", "/srv/app", "--server-name", "shop.example.com"}},
		{"config-nginx-bed.golden.conf", []string{"config", "nginx", "--path", "/home/u/app", "--listen", "127.0.0.11:8080", "--hostname", "127.0.0.11", "--app-dir", "apps/web"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			status, stdout, stderr := runCLI(t, nil, tc.args...)
			if status != cli.ExitOK {
				t.Fatalf("status %d: %s", status, stderr)
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(stdout))
		})
	}
}

func TestConfigPreloadIsTheShippedOne(t *testing.T) {
	status, stdout, _ := runCLI(t, nil, "config", "preload")
	if status != cli.ExitOK || stdout != string(pm2.Preload) {
		t.Errorf("config preload: status %d, output differs from pm2.Preload", status)
	}
}

func TestConfigBadInputExits2(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		mention []string
	}{
		{[]string{"config"}, []string{"config nginx"}},
		{[]string{"config", "apache"}, []string{`"apache"`}},
		{[]string{"config", "nginx", "--path", "~/app"}, []string{"does not expand ~"}},
		{[]string{"config", "pm2", "--port", "0", "--instances", "zero"}, []string{"port 0", "instances"}},
	} {
		status, _, stderr := runCLI(t, nil, tc.args...)
		if status != cli.ExitUsage {
			t.Errorf("%v: status %d, want 2", tc.args, status)
		}
		for _, m := range tc.mention {
			if !strings.Contains(stderr, m) {
				t.Errorf("%v: stderr does not mention %s:\n%s", tc.args, m, stderr)
			}
		}
	}
}
