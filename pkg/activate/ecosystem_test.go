package activate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// stubPM2 puts a pm2 first on PATH that answers pm2 jlist with jlist and
// does nothing else: the ecosystem decision runs its real scripts (sh,
// node) without a pm2 daemon.
func stubPM2(t *testing.T, jlist string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed")
		}
		t.Skip("node not installed")
	}
	bin := t.TempDir()
	stub := "#!/bin/sh\n[ \"$1\" = jlist ] && printf '%s\\n' '" + jlist + "'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "pm2"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// ecoSite is a deploy root on this machine holding ecosystem content
// (none when ""), and the Real that activates it with flags (the
// defaults, with the given ones changed).
func ecoSite(t *testing.T, content string, given map[string]bool, flags func(*pm2.Config)) (*Real, Host, string) {
	t.Helper()
	root := t.TempDir()
	if content != "" {
		content = strings.ReplaceAll(content, "ROOT", root)
		if err := os.WriteFile(filepath.Join(root, pm2.DefaultEcosystem), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := pm2.Defaults
	cfg.Root = root
	if flags != nil {
		flags(&cfg)
	}
	r := &Real{
		Layout: release.Layout{Root: root}, PM2: pm2.Runner{Root: root, Ecosystem: pm2.DefaultEcosystem, Env: "production"},
		Ecosystem: cfg, Given: func(f string) bool { return given[f] },
	}
	return r, Host{Host: remote.NewLocal(), Target: inventory.Target{Local: true}}, root
}

func generated(t *testing.T, root string, edit func(*pm2.Config)) string {
	t.Helper()
	c := pm2.Defaults
	c.Root = root
	edit(&c)
	b, err := pm2.Ecosystem(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var twoReleases = &release.State{Current: "r1", Releases: []release.Release{
	{ID: "r1", Complete: true, Manifest: &release.Manifest{ID: "r1"}},
	{ID: "r2", Complete: true, Manifest: &release.Manifest{ID: "r2"}},
}}

// Regression (issue 16): "activate --name app-ts --port 3202 reused the
// ecosystem.config.js that an earlier activate had written with name web,
// port 3000", and rollback checked port 3000 for an app on 3204. The
// ecosystem decision: flags given win over next-deploy's own file, which
// is then rewritten; a hand-written file is never rewritten and a flag
// that differs from it is refused, named; the health target is where the
// resulting ecosystem has the app listen.
func TestEcosystemDecision(t *testing.T) {
	stubPM2(t, "[]")
	hand := "module.exports = { apps: [{ name: 'web', cwd: 'ROOT/current', script: 'ROOT/current/server.js', exec_mode: 'cluster', env: { PORT: 3000 } }] };\n"
	for _, tc := range []struct {
		name    string
		eco     func(t *testing.T, root string) string
		given   map[string]bool
		flags   func(*pm2.Config)
		refused []string // words of the refusal; nil: accepted
		write   []string // words of the ecosystem written; nil: none
		health  string
	}{
		{name: "no ecosystem the flags'", eco: func(*testing.T, string) string { return "" },
			given: map[string]bool{"port": true}, flags: func(c *pm2.Config) { c.Port = 3202 },
			write: []string{`PORT: "3202"`}, health: "http://127.0.0.1:3202/"},
		{name: "ours a flag given differs rewritten",
			eco:   func(t *testing.T, root string) string { return generated(t, root, func(c *pm2.Config) {}) },
			given: map[string]bool{"port": true, "name": true}, flags: func(c *pm2.Config) { c.Port, c.Name = 3202, "app-ts" },
			write: []string{`PORT: "3202"`, `name: "app-ts"`}, health: "http://127.0.0.1:3202/"},
		{name: "ours no flag given kept and its port is the health target",
			eco: func(t *testing.T, root string) string {
				return generated(t, root, func(c *pm2.Config) { c.Port = 3204 })
			},
			health: "http://127.0.0.1:3204/"},
		{name: "ours edited since refused like a hand-written one",
			eco: func(t *testing.T, root string) string {
				return strings.Replace(generated(t, root, func(c *pm2.Config) {}), "NEXT_DEPLOY_ENV:", "API: 'x', NEXT_DEPLOY_ENV:", 1)
			},
			given: map[string]bool{"port": true}, flags: func(c *pm2.Config) { c.Port = 3202 },
			refused: []string{"edited since", "port is 3000 in the file, --port says 3202"}},
		{name: "hand-written flags differ refused each difference named",
			eco:   func(*testing.T, string) string { return hand },
			given: map[string]bool{"port": true, "name": true}, flags: func(c *pm2.Config) { c.Port, c.Name = 3202, "app-ts" },
			refused: []string{"not next-deploy's", "never rewrites", `app name is "web" in the file, --name says "app-ts"`, "port is 3000 in the file, --port says 3202"}},
		{name: "hand-written no flag given its port is the health target",
			eco: func(*testing.T, string) string { return hand }, health: "http://127.0.0.1:3000/"},
		{name: "hand-written a flag given that agrees", eco: func(*testing.T, string) string { return hand },
			given: map[string]bool{"port": true}, flags: func(c *pm2.Config) { c.Port = 3000 }, health: "http://127.0.0.1:3000/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, h, root := ecoSite(t, "", tc.given, tc.flags)
			if content := tc.eco(t, root); content != "" {
				if err := os.WriteFile(filepath.Join(root, pm2.DefaultEcosystem), []byte(strings.ReplaceAll(content, "ROOT", root)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			a, err := r.Inspect(context.Background(), h, twoReleases, "r2")
			if tc.refused != nil {
				if err == nil {
					t.Fatalf("accepted; want a refusal naming %q", tc.refused)
				}
				for _, w := range tc.refused {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("refusal does not say %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.healthURL != tc.health {
				t.Errorf("health target %q, want %q", a.healthURL, tc.health)
			}
			if (a.eco != nil) != (tc.write != nil) {
				t.Fatalf("writes an ecosystem: %v, want %v", a.eco != nil, tc.write != nil)
			}
			for _, w := range tc.write {
				if !strings.Contains(string(a.eco.content), w) {
					t.Errorf("the ecosystem to write lacks %s", w)
				}
			}
		})
	}
}

// A rename of next-deploy's ecosystem while the old app runs here would
// start a second app next to it: refused, with the flag to use.
func TestEcosystemRenameOfARunningAppIsRefused(t *testing.T) {
	r, h, root := ecoSite(t, "", map[string]bool{"name": true}, func(c *pm2.Config) { c.Name = "app-ts" })
	stubPM2(t, `[{"pm_id":0,"name":"web","pid":1,"pm2_env":{"status":"online","exec_mode":"cluster_mode","pm_cwd":"`+root+`/current","pm_exec_path":"`+root+`/current/server.js"}}]`)
	eco := generated(t, root, func(c *pm2.Config) {})
	if err := os.WriteFile(filepath.Join(root, pm2.DefaultEcosystem), []byte(eco), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := r.Inspect(context.Background(), h, twoReleases, "r2")
	if err == nil || !strings.Contains(err.Error(), "keep --name web") || !strings.Contains(err.Error(), "pm2 delete web") {
		t.Fatalf("err = %v; want a refusal saying keep --name web, or pm2 delete web", err)
	}
}

// Prepare rewrites next-deploy's ecosystem as the flags ask, atomically;
// a host that goes back gets the old file back, and the health target
// with it; a first activation that fails leaves no ecosystem behind.
func TestEcosystemRewrittenThenPutBack(t *testing.T) {
	stubPM2(t, "[]")
	ctx := context.Background()
	r, h, root := ecoSite(t, "", map[string]bool{"port": true}, func(c *pm2.Config) { c.Port = 3202 })
	file := filepath.Join(root, pm2.DefaultEcosystem)
	old := generated(t, root, func(c *pm2.Config) { c.Port = 3204 })
	if err := os.WriteFile(file, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	var notes []string
	r.Note = func(host, format string, a ...any) { notes = append(notes, format) }
	a, err := r.Inspect(ctx, h, twoReleases, "r2")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(ctx, h, a); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), `PORT: "3202"`) || a.healthURL != "http://127.0.0.1:3202/" {
		t.Fatalf("after Prepare: health %s, file:\n%s", a.healthURL, b)
	}
	if len(notes) == 0 || !strings.Contains(notes[len(notes)-1], "rewrote") {
		t.Errorf("Prepare did not say it rewrote the ecosystem: %q", notes)
	}
	if err := r.Restore(ctx, h, a, "r1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != old || a.healthURL != "http://127.0.0.1:3204/" {
		t.Errorf("after Restore: health %s, file:\n%s\nwant the old one back", a.healthURL, b)
	}

	r, h, root = ecoSite(t, "", nil, nil)
	first := &release.State{Releases: twoReleases.Releases}
	if a, err = r.Inspect(ctx, h, first, "r2"); err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(ctx, h, a); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, h, a, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, pm2.DefaultEcosystem)); !os.IsNotExist(err) {
		t.Errorf("a failed first activation left its ecosystem: %v", err)
	}
}

// Issue 16: another deploy path's app named web runs; next-deploy's
// ecosystem here names web too. activate --name app-ts renames ours:
// no conflict left, accepted (it was refused, without a word of --name).
func TestEcosystemRenameAwayFromAnotherPathsApp(t *testing.T) {
	r, h, root := ecoSite(t, "", map[string]bool{"name": true}, func(c *pm2.Config) { c.Name = "app-ts" })
	stubPM2(t, `[{"pm_id":0,"name":"web","pid":1,"pm2_env":{"status":"online","exec_mode":"cluster_mode","pm_cwd":"/srv/other/current","pm_exec_path":"/srv/other/current/server.js"}}]`)
	if err := os.WriteFile(filepath.Join(root, pm2.DefaultEcosystem), []byte(generated(t, root, func(c *pm2.Config) {})), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := r.Inspect(context.Background(), h, twoReleases, "r2")
	if err != nil {
		t.Fatalf("rename away from another path's web: %v", err)
	}
	if a.eco == nil || !strings.Contains(string(a.eco.content), `name: "app-ts"`) {
		t.Errorf("no rewrite to app-ts planned: %+v", a.eco)
	}
	r.Ecosystem.Name, r.Given = "web", nil
	if _, err := r.Inspect(context.Background(), h, twoReleases, "r2"); err == nil || !strings.Contains(err.Error(), "--name NAME") {
		t.Errorf("keeping the name of another path's app: err = %v, want a refusal that names --name", err)
	}
}
