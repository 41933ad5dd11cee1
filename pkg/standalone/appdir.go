package standalone

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

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
