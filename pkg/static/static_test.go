package static

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/standalone"
)

// builtApp lays out what next build leaves: .next/static, public/ and the
// standalone tree with server.js in appDir.
func builtApp(t *testing.T, appDir string) string {
	t.Helper()
	project := t.TempDir()
	write(t, filepath.Join(project, ".next/standalone", appDir, "server.js"), "x", 0o644)
	write(t, filepath.Join(project, ".next/static/chunks/app.js"), "chunk", 0o644)
	write(t, filepath.Join(project, ".next/static/r1/_buildManifest.js"), "m", 0o644)
	write(t, filepath.Join(project, "public/images/logo.svg"), "<svg/>", 0o644)
	write(t, filepath.Join(project, "public/bin/tool.sh"), "#!/bin/sh\n", 0o755)
	must(t, os.Symlink("images/logo.svg", filepath.Join(project, "public/logo.svg")))
	return project
}

func write(t *testing.T, p, body string, mode fs.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), mode))
	must(t, os.Chmod(p, mode))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listing describes a tree: path, mode, and content or link target.
func listing(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		b.WriteString(rel + " " + fi.Mode().String())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		case fi.Mode().IsRegular():
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
		return nil
	}))
	return b.String()
}

func TestCopyPutsStaticNextToServerJS(t *testing.T) {
	for _, appDir := range []string{".", "apps/web"} {
		t.Run(appDir, func(t *testing.T) {
			project := builtApp(t, appDir)
			res, err := Copy(project)
			if err != nil {
				t.Fatal(err)
			}
			server := filepath.Join(project, ".next/standalone", appDir)
			if got, want := listing(t, filepath.Join(server, "public")), listing(t, filepath.Join(project, "public")); got != want {
				t.Errorf("public copied as\n%s\nwant\n%s", got, want)
			}
			if got, want := listing(t, filepath.Join(server, ".next/static")), listing(t, filepath.Join(project, ".next/static")); got != want {
				t.Errorf(".next/static copied as\n%s\nwant\n%s", got, want)
			}
			if res.AppDir != appDir || res.Files != 4 || res.Links != 1 {
				t.Errorf("result %+v", res)
			}
			if names := strings.Join(res.Copied, ","); names != filepath.ToSlash(filepath.Join(appDir, ".next/static"))+","+filepath.ToSlash(filepath.Join(appDir, "public")) {
				t.Errorf("copied %q", names)
			}
		})
	}
}

func TestCopyIsIdempotent(t *testing.T) {
	project := builtApp(t, ".")
	_, err := Copy(project)
	must(t, err)
	standalone := filepath.Join(project, ".next/standalone")
	first := listing(t, standalone)
	_, err = Copy(project)
	must(t, err)
	if second := listing(t, standalone); second != first {
		t.Errorf("second run changed the tree:\n%s\nwas\n%s", second, first)
	}
	// A file gone from public/ is gone from the copy too.
	must(t, os.Remove(filepath.Join(project, "public/bin/tool.sh")))
	_, err = Copy(project)
	must(t, err)
	if _, err := os.Lstat(filepath.Join(standalone, "public/bin/tool.sh")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file removed from public/ survived: %v", err)
	}
	entries, _ := os.ReadDir(standalone)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func TestCopyRefuses(t *testing.T) {
	if _, err := Copy(t.TempDir()); !errors.Is(err, standalone.ErrNotStandalone) {
		t.Errorf("no standalone output: %v, want ErrNotStandalone", err)
	}
	project := builtApp(t, ".")
	must(t, os.RemoveAll(filepath.Join(project, ".next/static")))
	if _, err := Copy(project); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("no .next/static: %v", err)
	}
}

func TestCopyWithoutPublic(t *testing.T) {
	project := builtApp(t, ".")
	must(t, os.RemoveAll(filepath.Join(project, "public")))
	res, err := Copy(project)
	if err != nil || !res.NoPublic || len(res.Copied) != 1 {
		t.Errorf("Copy = %+v, %v; want .next/static only", res, err)
	}
}
