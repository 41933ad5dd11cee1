package build

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExecCommand(t *testing.T) {
	for _, tc := range []struct {
		pm   PackageManager
		want string
	}{
		{PackageManager{Name: "npm"}, "npx --no-install next build --webpack"},
		{PackageManager{Name: "pnpm"}, "pnpm exec next build --webpack"},
		{PackageManager{Name: "yarn"}, "yarn next build --webpack"},
		{PackageManager{Name: "yarn", Berry: true}, "yarn next build --webpack"},
		{PackageManager{Name: "bun"}, "bun x next build --webpack"},
	} {
		if got := strings.Join(tc.pm.ExecCommand("next", "build", "--webpack"), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.pm.Name, got, tc.want)
		}
	}
	if got := (PackageManager{Name: "cargo"}).ExecCommand("next"); got != nil {
		t.Errorf("unknown package manager: %q, want nil", got)
	}
}

// An npm workspaces install: the lockfile, npm's hidden lockfile, the
// manifests, and the packages on disk.
const (
	wsLock = `{"lockfileVersion":3,"packages":{
"":{"name":"root","workspaces":["apps/*"],"devDependencies":{"typescript":"5.9.3"}},
"apps/web":{"name":"web","dependencies":{"next":"16.4.6"}},
"node_modules/web":{"resolved":"apps/web","link":true},
"node_modules/next":{"version":"16.4.6","resolved":"https://r/next-16.4.6.tgz","integrity":"sha512-n"},
"node_modules/@next/swc-darwin-arm64":{"version":"16.4.6","optional":true},
"node_modules/typescript":{"version":"5.9.3","resolved":"https://r/ts.tgz","integrity":"sha512-t","dev":true},
"node_modules/next/node_modules/postcss":{"version":"8.4.31","resolved":"https://r/p.tgz","integrity":"sha512-p"}}}`
	wsHidden = `{"lockfileVersion":3,"packages":{
"apps/web":{"name":"web","dependencies":{"next":"16.4.6"}},
"node_modules/web":{"resolved":"apps/web","link":true},
"node_modules/next":{"version":"16.4.6","resolved":"https://r/next-16.4.6.tgz","integrity":"sha512-n"},
"node_modules/typescript":{"version":"5.9.3","resolved":"https://r/ts.tgz","integrity":"sha512-t","dev":true},
"node_modules/next/node_modules/postcss":{"version":"8.4.31","resolved":"https://r/p.tgz","integrity":"sha512-p"}}}`
	wsRoot = `{"name":"root","workspaces":["apps/*"],"devDependencies":{"typescript":"5.9.3"}}`
	wsWeb  = `{"name":"web","dependencies":{"next":"16.4.6"}}`
)

func TestNPMUpToDate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(files map[string]string)
		want string // "" : up to date
	}{
		{"matches, other platforms' optional packages missing", func(map[string]string) {}, ""},
		{"nothing installed", func(f map[string]string) { delete(f, "node_modules/.package-lock.json") }, "no npm install in node_modules yet"},
		{"another version installed", func(f map[string]string) {
			f["node_modules/.package-lock.json"] = strings.Replace(wsHidden, `"version":"8.4.31"`, `"version":"8.4.30"`, 1)
		}, "node_modules/next/node_modules/postcss is 8.4.30 installed, 8.4.31 in the lockfile"},
		{"a dependency not installed", func(f map[string]string) {
			f["node_modules/.package-lock.json"] = strings.Replace(wsHidden, `"node_modules/typescript"`, `"node_modules/typescript-x"`, 1)
		}, "node_modules/typescript is in the lockfile but not installed"},
		{"an extraneous package", func(f map[string]string) {
			f["node_modules/.package-lock.json"] = strings.Replace(wsHidden, `"apps/web":`, `"node_modules/left-pad":{"version":"1.3.0"},"apps/web":`, 1)
			f["node_modules/left-pad/package.json"] = "{}"
		}, "node_modules/left-pad is installed but not in the lockfile"},
		{"a workspace's package.json changed", func(f map[string]string) {
			f["apps/web/package.json"] = `{"name":"web","dependencies":{"next":"16.4.7"}}`
		}, "the dependencies of "},
		{"the root's package.json changed", func(f map[string]string) {
			f["package.json"] = `{"name":"root","devDependencies":{"typescript":"5.9.3","@types/react":"19.3.0"}}`
		}, "the devDependencies of "},
		{"a package removed from disk", func(f map[string]string) { delete(f, "node_modules/next/package.json") }, "node_modules/next is in .package-lock.json but not on disk"},
		{"lockfile v1", func(f map[string]string) { f["package-lock.json"] = `{"lockfileVersion":1,"dependencies":{}}` }, "lockfileVersion 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{
				"package-lock.json": wsLock, "node_modules/.package-lock.json": wsHidden,
				"package.json": wsRoot, "apps/web/package.json": wsWeb, "node_modules/web": "",
				"node_modules/next/package.json": "{}", "node_modules/typescript/package.json": "{}",
				"node_modules/next/node_modules/postcss/package.json": "{}",
			}
			tc.edit(files)
			for _, name := range slices.Sorted(maps.Keys(files)) {
				p := filepath.Join(root, filepath.FromSlash(name))
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				if name == "node_modules/web" {
					must(t, os.Symlink("../apps/web", p))
					continue
				}
				must(t, os.WriteFile(p, []byte(files[name]), 0o644))
			}
			pm := PackageManager{Name: "npm", Root: root, Lockfile: filepath.Join(root, "package-lock.json")}
			ok, why := pm.UpToDate()
			if ok != (tc.want == "") || (tc.want != "" && !strings.Contains(why, tc.want)) {
				t.Errorf("UpToDate = %v, %q; want %q", ok, why, tc.want)
			}
			if tc.want == "" && why != "node_modules matches package-lock.json" {
				t.Errorf("reason %q", why)
			}
		})
	}
	if ok, why := (PackageManager{Name: "pnpm"}).UpToDate(); ok || !strings.Contains(why, "pnpm checks node_modules itself") {
		t.Errorf("pnpm: %v, %q: pnpm's frozen install makes the check", ok, why)
	}
}
