package initapp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/golden"
)

func defaults(dir string) Options {
	return Options{Dir: dir, RunnerLabel: DefaultRunnerLabel, Path: DefaultPath, Name: DefaultName, Port: DefaultPort}
}

func writeApp(t *testing.T, dir, config string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"package.json": `{"name": "app"}`}
	if config != "" {
		files["next.config.js"] = config
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hashes are the sha256 and mode of every file under dir.
func hashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		info, _ := d.Info()
		out[p] = fmt.Sprintf("%x %v", sha256.Sum256(b), info.Mode())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func actions(r *Result) map[string]Action {
	m := map[string]Action{}
	for _, f := range r.Files {
		m[f.Path] = f.Action
	}
	return m
}

// TestInitTwiceIsANoOp: the first run writes next-deploy.yml, edits
// next.config and writes the four workflows; the second changes no byte.
func TestInitTwiceIsANoOp(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "module.exports = {\n  reactStrictMode: true,\n}\n")
	res, err := Init(defaults(dir))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		"next-deploy.yml": Created, "next.config.js": Edited,
		".github/workflows/deploy-develop.yml": Created, ".github/workflows/deploy-staging.yml": Created,
		".github/workflows/deploy-production.yml": Created, ".github/workflows/rollback.yml": Created,
	}
	if got := actions(res); fmt.Sprint(got) != fmt.Sprint(want) || !res.Changed {
		t.Fatalf("first run: %v (changed %v), want %v", got, res.Changed, want)
	}
	if got := res.Environments; !slices.Equal(got, []string{"develop", "staging", "production"}) || len(res.Placeholders) != 3 {
		t.Errorf("environments %v, placeholders %v", got, res.Placeholders)
	}
	before := hashes(t, dir)
	res, err = Init(defaults(dir))
	if err != nil {
		t.Fatal(err)
	}
	for path, a := range actions(res) {
		if a != Unchanged {
			t.Errorf("second run: %s %s, want unchanged", path, a)
		}
	}
	if res.Changed {
		t.Error("second run: changed, want nothing changed")
	}
	if after := hashes(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("second run changed files:\nbefore %v\nafter  %v", before, after)
	}
}

// TestInitNeverOverwrites: a next-deploy.yml with its hosts filled in and
// a workflow of the user's own are kept; the workflow's difference is
// shown.
func TestInitNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "")
	settings := "path: /srv/shop\nname: shop\nport: 3100\nenvironments:\n  production:\n    hosts: [deploy@10.0.0.5]\n"
	own := "name: mine\non: push\njobs: {}\n"
	os.WriteFile(filepath.Join(dir, "next-deploy.yml"), []byte(settings), 0o644)
	os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755)
	os.WriteFile(filepath.Join(dir, ".github", "workflows", "rollback.yml"), []byte(own), 0o644)
	res, err := Init(defaults(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		switch f.Path {
		case "next-deploy.yml":
			if f.Action != Kept || f.Diff != "" {
				t.Errorf("next-deploy.yml: %s with diff %q, want kept without one", f.Action, f.Diff)
			}
		case ".github/workflows/rollback.yml":
			if f.Action != Kept || !strings.Contains(f.Diff, "-name: mine\n") || !strings.Contains(f.Diff, "+name: rollback\n") {
				t.Errorf("rollback.yml: %s, diff:\n%s\nwant kept with the diff to init's", f.Action, f.Diff)
			}
		case "next.config.mjs":
			if f.Action != Created {
				t.Errorf("next.config.mjs: %s, want created (the app had none)", f.Action)
			}
		}
	}
	for file, want := range map[string]string{"next-deploy.yml": settings, ".github/workflows/rollback.yml": own} {
		if got, _ := os.ReadFile(filepath.Join(dir, file)); string(got) != want {
			t.Errorf("%s was overwritten:\n%s", file, got)
		}
	}
	// The server commands follow the app's own file.
	if len(res.Server) != 1 || !slices.Contains(res.Server[0].Login, "next-deploy config pm2 --path /srv/shop --name shop --port 3100 --envs production > /srv/shop/ecosystem.config.js") {
		t.Errorf("server commands %+v, want them from the app's next-deploy.yml", res.Server)
	}
}

// TestInitAssetPrefixOfItsOwn: an app with its own assetPrefix gets
// everything else, its next.config untouched, and a finding (exit 3) that
// says why, with the diff to apply.
func TestInitAssetPrefixOfItsOwn(t *testing.T) {
	dir := t.TempDir()
	src := "module.exports = {\n  assetPrefix: 'https://cdn.example.com',\n}\n"
	writeApp(t, dir, src)
	res, err := Init(defaults(dir))
	var hand *HandEditError
	if !errors.As(err, &hand) || !hand.Finding() || !strings.Contains(err.Error(), "next.config.js needs a hand edit: line 2 sets assetPrefix otherwise") {
		t.Fatalf("error %v, want a finding about assetPrefix", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "next.config.js")); string(got) != src {
		t.Errorf("next.config.js was edited:\n%s", got)
	}
	f := res.Files[slices.IndexFunc(res.Files, func(f FileResult) bool { return f.Path == "next.config.js" })]
	if f.Action != ByHand || !strings.Contains(f.Diff, "\n-  assetPrefix: 'https://cdn.example.com',\n") || !strings.Contains(f.Diff, "\n+  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,\n") {
		t.Errorf("next.config.js: %s, diff:\n%s", f.Action, f.Diff)
	}
	if a := actions(res); a["next-deploy.yml"] != Created || a[".github/workflows/deploy-develop.yml"] != Created {
		t.Errorf("the rest was not done: %v", a)
	}
}

// TestInitInAMonorepo: the workflows go to the repository's root and name
// the app's directory.
func TestInitInAMonorepo(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, ".git"), 0o755)
	app := filepath.Join(root, "apps", "web")
	writeApp(t, app, "module.exports = {}\n")
	o := defaults(app)
	o.RunnerLabel = "on-prem"
	res, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := actions(res)["apps/web/next-deploy.yml"]; !ok || res.Root != root {
		t.Errorf("files %v in root %s, want apps/web/next-deploy.yml in %s", actions(res), res.Root, root)
	}
	got, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "deploy-develop.yml"))
	if err != nil || !strings.Contains(string(got), "app-directory: apps/web\n") || !strings.Contains(string(got), `'["self-hosted", "on-prem"]'`) {
		t.Errorf("deploy-develop.yml (%v):\n%s", err, got)
	}
}

func TestOptionsCheck(t *testing.T) {
	o := Options{Dir: t.TempDir(), RunnerLabel: "bad label", Path: "rel", Name: "a b", Port: 0}
	err := o.Check()
	for _, want := range []string{`runner label "bad label"`, "path:", `name "a b"`, "port 0", "not a Node.js app"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v, want it to say %q", err, want)
		}
	}
}

// TestServerSetup: environments that read the same settings share one set
// of commands, the ecosystem holding each one's pm2 env; a ~/ path is
// absolute for nginx.
func TestServerSetup(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "next-deploy.yml")
	os.WriteFile(file, []byte(`path: /srv/shop
name: shop
instances: max
shared: [.env.production, public/uploads/]
environments:
  develop:
    hosts: [ci@dev.example.com]
    path: ~/app
    pm2_env: develop
  staging:
    hosts: [deploy@10.0.1.5]
    pm2_env: staging
  production:
    hosts: [deploy@10.0.0.5]
    server_name: shop.example.org
`), 0o644)
	r := &Result{}
	if err := r.server(file); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range r.Server {
		fmt.Fprintf(&b, "%s\n  root:\n    %s\n  login:\n    %s\n", strings.Join(s.Environments, ", "), strings.Join(s.Root, "\n    "), strings.Join(s.Login, "\n    "))
	}
	fmt.Fprintf(&b, "placeholders: %v\n", r.Placeholders)
	golden.Check(t, filepath.Join("testdata", "server-setup.golden"), []byte(b.String()))
}
