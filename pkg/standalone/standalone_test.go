package standalone

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		if strings.HasSuffix(n, "/") {
			must(t, os.MkdirAll(p, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte("{}"), 0o644))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPickAppDir(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  string
	}{
		{[]string{"server.js"}, ".", ""},
		{[]string{"apps/web/server.js"}, "apps/web", ""},
		{[]string{"apps/web/server.js", "server.js"}, ".", ""},
		{[]string{"apps/web/server.js", "apps/api/server.js"}, "", "same depth"},
		{nil, "", "no server.js"},
	} {
		got, err := PickAppDir(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("PickAppDir(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFindAppDirSkipsPackagesAndDotDirs(t *testing.T) {
	root := t.TempDir()
	touch(t, root,
		"node_modules/next/dist/server.js",
		"node_modules/express/server.js",
		".next/server.js",
		"apps/web/node_modules/x/server.js",
		"apps/web/server.js",
	)
	got, err := FindAppDir(root)
	if err != nil || got != "apps/web" {
		t.Errorf("FindAppDir = %q, %v; want apps/web", got, err)
	}
	if _, err := FindAppDir(t.TempDir()); !errors.Is(err, ErrNotStandalone) {
		t.Errorf("empty tree: %v, want ErrNotStandalone", err)
	}
}

func TestLocateRefusesWithoutStandaloneOutput(t *testing.T) {
	_, err := Locate(t.TempDir())
	if !errors.Is(err, ErrNotStandalone) || !strings.Contains(err.Error(), "assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX") {
		t.Errorf("Locate = %v, want ErrNotStandalone with the config snippet", err)
	}
}

func TestCheckAssetPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, html, err string
		checked                 int
		basePath                string
	}{
		{"good", "/r1", `<link href="/r1/_next/static/a.css"><script src="/r1/_next/static/a.js">`, "", 1, ""},
		{"no prefix configured", "", `<script src="/_next/static/a.js">`, `assetPrefix is ""`, 0, ""},
		{"html bypasses prefix", "/r1", `<script src="/r1/_next/a.js"></script><script src="/_next/static/b.js">`, "does not load its assets", 0, ""},
		// A page may mention /_next/ in its text (the fixture's blog does).
		{"text mentions /_next/", "/r1", `<p>chunks live in /_next/static</p><script src="/r1/_next/a.js">`, "", 1, ""},
		{"under the basePath", "/docs/r1", `<script src="/docs/r1/_next/static/a.js">`, "", 1, "/docs"},
		{"basePath left out of the prefix", "/r1", `<script src="/r1/_next/static/a.js">`, `not "/docs/r1"`, 0, "/docs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			project := t.TempDir()
			o := Output{Project: project, Standalone: filepath.Join(project, ".next/standalone"), AppDir: "."}
			touch(t, project, ".next/standalone/.next/server/app/")
			must(t, os.WriteFile(filepath.Join(project, ".next/required-server-files.json"), []byte(`{"config":{"assetPrefix":"`+tc.prefix+`"}}`), 0o644))
			must(t, os.WriteFile(filepath.Join(o.ServerDir(), ".next/server/app/index.html"), []byte(tc.html), 0o644))
			n, err := o.CheckAssetPrefix(AssetPrefix(tc.basePath, "r1"))
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("CheckAssetPrefix = %v, want %q", err, tc.err)
			}
			if err == nil && n != tc.checked {
				t.Errorf("checked %d pages, want %d", n, tc.checked)
			}
		})
	}
}

func TestCheckShippable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		err   string
	}{
		{"single app", []string{"server.js", ".next/static/chunks/a.js"}, ""},
		{"monorepo app", []string{"apps/web/server.js", "apps/web/.next/static/chunks/a.js", "node_modules/next/server.js"}, ""},
		{"the app's directory, not its standalone output", []string{"package.json", "node_modules/next/dist/server.js"}, "want the standalone output"},
		{"static not copied in", []string{"server.js", "public/robots.txt"}, "run postbuild-copy-static before pack"},
		// .next/static must sit next to the nested server.js, where
		// nginx and the server look, not at the tree's root.
		{"static beside the wrong server.js", []string{"apps/web/server.js", ".next/static/chunks/a.js"}, "apps/web/.next/static is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			touch(t, root, tc.files...)
			err := CheckShippable(root)
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("CheckShippable = %v, want %q", err, tc.err)
			}
		})
	}
}
