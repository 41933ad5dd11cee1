package build

import (
	"io/fs"
	"os"
	"path/filepath"
)

// CopySources copies an app's source tree from src to dst, leaving out what
// an install or a build makes there (node_modules, .next), so the copy
// builds from scratch. The demo and the end-to-end tests build such copies.
func CopySources(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".next") {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
