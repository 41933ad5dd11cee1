package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

func TestListSynthesizesImplicitParents(t *testing.T) {
	hi := file("a/b/c.txt", "hi")
	hi.mode = 0o640
	art := tarball(t, hi, symlink("a/link", "b/c.txt"))
	files, st, err := List(context.Background(), bytes.NewReader(art), release.Plain)
	must(t, err)
	if st.Files != 1 || st.Symlinks != 1 {
		t.Errorf("stats %+v", st)
	}
	got := string(files.Marshal())
	want := "a\td\t755\t0\t-\n" +
		"a/b\td\t755\t0\t-\n" +
		"a/b/c.txt\tf\t640\t2\t8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4\n" +
		"a/link\tl\t777\t0\tb/c.txt\n"
	if got != want {
		t.Errorf("manifest\n%s\nwant\n%s", got, want)
	}
	back, err := release.ParseFiles([]byte(got))
	must(t, err)
	if string(back.Marshal()) != got {
		t.Errorf("parse and marshal do not round-trip")
	}
}

func TestSubsetKeepsShapeAndChosenFiles(t *testing.T) {
	d := dir("d/")
	d.mode = 0o750
	art := tarball(t, d, file("d/keep.txt", "keep"), file("d/drop.txt", "drop"), symlink("d/l", "keep.txt"))
	var out bytes.Buffer
	n, err := Subset(context.Background(), bytes.NewReader(art), release.Plain, &out, func(name string) bool { return name == "d/keep.txt" })
	must(t, err)
	if n != 1 {
		t.Errorf("wrote %d files, want 1", n)
	}
	files, _, err := List(context.Background(), &out, release.Plain)
	must(t, err)
	var names []string
	for _, e := range files {
		names = append(names, e.Path)
	}
	if got := strings.Join(names, " "); got != "d d/keep.txt d/l" {
		t.Errorf("subset holds %s", got)
	}
}
