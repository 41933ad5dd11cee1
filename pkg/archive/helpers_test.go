package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

// checkFilesDescribeTree compares a file manifest with the tree it was
// packed from (less .next/cache): the same paths, types, modes, sizes,
// contents and link targets.
func checkFilesDescribeTree(t *testing.T, files release.Files, src string) {
	t.Helper()
	want := map[string]release.FileEntry{}
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() && isBuildCache(filepath.ToSlash(rel)) {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		must(t, err)
		e := release.FileEntry{Path: filepath.ToSlash(rel), Mode: fi.Mode().Perm(), Data: "-"}
		switch {
		case fi.IsDir():
			e.Type = release.TypeDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type, e.Mode = release.TypeSymlink, 0o777
			e.Data, err = os.Readlink(p)
			must(t, err)
		default:
			b, err := os.ReadFile(p)
			must(t, err)
			s := sha256.Sum256(b)
			e.Type, e.Size, e.Data = release.TypeFile, fi.Size(), hex.EncodeToString(s[:])
		}
		want[e.Path] = e
		return nil
	})
	if len(files) != len(want) {
		t.Errorf("manifest lists %d paths, the tree has %d", len(files), len(want))
	}
	for _, e := range files {
		if w, ok := want[e.Path]; !ok || w != e {
			t.Errorf("manifest line %q, tree has %q", e.Line(), w.Line())
		}
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
