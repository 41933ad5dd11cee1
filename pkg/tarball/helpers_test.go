package tarball

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

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

// makeWritable lets t.TempDir's cleanup remove read-only directories when
// the tests do not run as root.
func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// needTool reports whether a program is on PATH: without it the test part
// is skipped, except under CI=true, where it fails.
func needTool(t testing.TB, name string) bool {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true): %v", name, err)
		}
		t.Logf("skipping the %s part: %v", name, err)
		return false
	}
	return true
}
