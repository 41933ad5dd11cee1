package build

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopySourcesLeavesOutBuildOutput(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	for _, f := range []string{"package.json", "app/page.tsx", "node_modules/next/index.js", ".next/cache/x", "app/node_modules/y.js"} {
		p := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := CopySources(src, dst); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{"package.json": true, "app/page.tsx": true, "node_modules": false, ".next": false, "app/node_modules": false} {
		_, err := os.Stat(filepath.Join(dst, f))
		if got := err == nil; got != want {
			t.Errorf("%s copied = %v, want %v", f, got, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "app/page.tsx")); string(b) != "app/page.tsx" {
		t.Errorf("content = %q", b)
	}
}
