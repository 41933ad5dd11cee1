package tarball

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

func TestListSynthesizesImplicitParents(t *testing.T) {
	hi := file("a/b/c.txt", "hi")
	hi.mode = 0o640
	art := tarOf(t, hi, symlink("a/link", "b/c.txt"))
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
	art := tarOf(t, d, file("d/keep.txt", "keep"), file("d/drop.txt", "drop"), symlink("d/l", "keep.txt"))
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
