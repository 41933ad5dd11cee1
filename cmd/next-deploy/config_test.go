package main

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/golden"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
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

// config show: every setting, its value and where it came from (flag,
// variable, file line, default), secrets masked; then the file's hosts,
// hooks and shared files.
func TestConfigShowGolden(t *testing.T) {
	env := map[string]string{"NEXT_DEPLOY_SSH_PASSPHRASE": "hunter2"}
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"config-show.golden.txt", []string{"config", "show", "--config", "testdata/config-show.yml", "--env", "production", "--batch", "3"}},
		{"config-show.golden.json", []string{"config", "show", "-e", "staging", "--config", "testdata/config-show.yml", "--json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			status, stdout, stderr := runCLI(t, env, tc.args...)
			if status != cli.ExitOK {
				t.Fatalf("status %d: %s", status, stderr)
			}
			if strings.Contains(stdout, "hunter2") {
				t.Fatal("config show printed a secret")
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(stdout))
		})
	}
}

// Every key of next-deploy.yml sets a flag some command has, with a value
// that flag takes: a key no command knows would be silently useless.
func TestEveryFileKeyIsAFlag(t *testing.T) {
	has := map[string]bool{}
	for _, c := range newApp().Commands {
		fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
		c.SetFlags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			// config takes every setting, for show: only its own count.
			if !strings.HasPrefix(f.Usage, "config show: ") {
				has[f.Name] = true
			}
		})
	}
	for _, name := range config.FlagKeys() {
		if !has[name] {
			t.Errorf("key %s: no command has --%s", strings.ReplaceAll(name, "-", "_"), name)
		}
	}
}
