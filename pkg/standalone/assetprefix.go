package standalone

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// unprefixed is an asset reference that bypasses the asset prefix.
var unprefixed = regexp.MustCompile(`(?:src|href)="/_next/`)

// AssetPrefix is the assetPrefix of a release's build: /<release>, under
// the app's basePath when it has one (/docs/<release>), so that a site
// that routes only /docs to the app also routes its assets. nginx serves
// <basePath>/<release>/_next/static/ from that release.
func AssetPrefix(basePath, release string) string {
	return basePath + "/" + release
}

// CheckAssetPrefix checks that the build asks browsers for its assets under
// <prefix>/_next/ (prefix is AssetPrefix's): the configured assetPrefix, and
// the prerendered HTML (a page that references /_next/ directly would load
// another release's chunks, or none). It returns how many HTML files it
// checked; an app without prerendered pages has none.
func (o Output) CheckAssetPrefix(prefix string) (int, error) {
	want := prefix
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
	return o.checkHTML(prefix)
}

func (o Output) checkHTML(prefix string) (int, error) {
	prefixed := []byte(prefix + "/_next/")
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
