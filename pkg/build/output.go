package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// ConfigSnippet is what an app adds to next.config so that a build made by
// build-standalone has the layout the servers expect. NEXT_DEPLOYMENT_ID
// needs no line: Next reads it by itself.
const ConfigSnippet = `  output: "standalone",
  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,
  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,`

// ErrNotStandalone is a build without standalone output.
var ErrNotStandalone = errors.New("no standalone output")

// Output is a finished standalone build.
type Output struct {
	// Project is the app's directory (--dir): public/ and .next/ are there.
	Project string `json:"project"`
	// Standalone is Project/.next/standalone, the tree that is shipped.
	Standalone string `json:"standalone_dir"`
	// AppDir is where server.js is inside Standalone, slash-separated:
	// "." for a single app, "apps/web" for a monorepo app.
	AppDir string `json:"app_dir"`
}

// ServerDir is the absolute directory holding server.js.
func (o Output) ServerDir() string {
	return filepath.Join(o.Standalone, filepath.FromSlash(o.AppDir))
}

// Locate finds the standalone output of the app in project.
func Locate(project string) (Output, error) {
	abs, err := filepath.Abs(project)
	if err != nil {
		return Output{}, err
	}
	o := Output{Project: abs, Standalone: filepath.Join(abs, ".next", "standalone")}
	if fi, err := os.Stat(o.Standalone); err != nil || !fi.IsDir() {
		return Output{}, fmt.Errorf("%w in %s: .next/standalone is missing; build with output: \"standalone\" in next.config:\n%s",
			ErrNotStandalone, abs, ConfigSnippet)
	}
	o.AppDir, err = FindAppDir(o.Standalone)
	if err != nil {
		return Output{}, err
	}
	return o, nil
}

// FindAppDir finds the directory of server.js in a standalone tree.
func FindAppDir(standalone string) (string, error) {
	var found []string
	err := filepath.WalkDir(standalone, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(standalone, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel != "." && skipForServerJS(d.Name()) {
			return filepath.SkipDir
		}
		if !d.IsDir() && IsServerJS(rel) {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("look for server.js in %s: %w", standalone, err)
	}
	dir, err := PickAppDir(found)
	if err != nil {
		return "", fmt.Errorf("%s: %w", standalone, err)
	}
	return dir, nil
}

func skipForServerJS(name string) bool {
	return name == "node_modules" || strings.HasPrefix(name, ".")
}

// IsServerJS says whether a slash-separated path inside a standalone tree
// may be the app's server.js: named server.js, and not inside node_modules
// or a dot directory (packages ship files of that name too).
func IsServerJS(rel string) bool {
	if path.Base(rel) != "server.js" {
		return false
	}
	parts := strings.Split(path.Dir(rel), "/")
	return !slices.ContainsFunc(parts, func(p string) bool { return p != "." && skipForServerJS(p) })
}

// PickAppDir picks the app dir among the server.js paths of a tree: the
// shallowest one. A monorepo's standalone output nests server.js under the
// app's path (apps/web/server.js); two at the same depth are ambiguous.
func PickAppDir(serverJS []string) (string, error) {
	if len(serverJS) == 0 {
		return "", fmt.Errorf("%w: no server.js outside node_modules", ErrNotStandalone)
	}
	depth := func(p string) int { return strings.Count(p, "/") }
	sorted := slices.Clone(serverJS)
	slices.SortFunc(sorted, func(a, b string) int { return depth(a) - depth(b) })
	if len(sorted) > 1 && depth(sorted[0]) == depth(sorted[1]) {
		return "", fmt.Errorf("several server.js at the same depth (%s, %s): cannot tell which app this is", sorted[0], sorted[1])
	}
	return path.Dir(sorted[0]), nil
}

// unprefixed is an asset reference that bypasses the asset prefix.
var unprefixed = regexp.MustCompile(`(?:src|href)="/_next/`)

// CheckAssetPrefix checks that the build asks browsers for its assets under
// /<release>/_next/: the configured assetPrefix, and the prerendered HTML
// (a page that references /_next/ directly would load another release's
// chunks, or none). It returns how many HTML files it checked; an app
// without prerendered pages has none.
func (o Output) CheckAssetPrefix(release string) (int, error) {
	want := "/" + release
	rsf := filepath.Join(o.Project, ".next", "required-server-files.json")
	b, err := os.ReadFile(rsf)
	if err != nil {
		return 0, fmt.Errorf("check asset prefix: %w", err)
	}
	var v struct {
		Config struct {
			AssetPrefix string `json:"assetPrefix"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, fmt.Errorf("check asset prefix: %s: %w", rsf, err)
	}
	if v.Config.AssetPrefix != want {
		return 0, fmt.Errorf("the build's assetPrefix is %q, not %q: next.config must read it from the environment:\n%s",
			v.Config.AssetPrefix, want, ConfigSnippet)
	}
	return o.checkHTML(release)
}

func (o Output) checkHTML(release string) (int, error) {
	prefixed := []byte("/" + release + "/_next/")
	n := 0
	root := filepath.Join(o.ServerDir(), ".next", "server")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || filepath.Ext(p) != ".html" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "/_next/") {
			return nil
		}
		n++
		if loc := unprefixed.FindIndex(b); loc != nil || !strings.Contains(string(b), string(prefixed)) {
			return fmt.Errorf("%s does not load its assets from %s: is assetPrefix set in next.config?\n%s", p, prefixed, ConfigSnippet)
		}
		return nil
	})
	return n, err
}
