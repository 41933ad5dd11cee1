package tarball

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

// FuzzExtract feeds Extract arbitrary tar streams (seeded with the hostile
// archives, those read two ways and one pack would write) and checks what
// must hold whatever the input: nothing appears next to the target, every
// symlink in the target resolves inside it, and Extract accepts exactly
// what Check accepts.
//
//	go test ./pkg/tarball -run '^$' -fuzz FuzzExtract -fuzztime 1m
func FuzzExtract(f *testing.F) {
	for _, tc := range hostile {
		f.Add(tarOf(f, tc.entries...))
	}
	f.Add(sparseTarball())
	for _, tc := range readTwoWays {
		f.Add(tc.data)
	}
	f.Add(tarOf(f, dir("a"), file("a/b", "x"), symlink("a/l", "../a/b"), symlink("m", "a"), file("c", "y")))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "dest")
		t.Cleanup(func() { makeWritable(parent) })
		_, checkErr := Check(context.Background(), bytes.NewReader(data), release.Plain)
		_, extractErr := Extract(context.Background(), bytes.NewReader(data), release.Plain, dest)
		if names := dirNames(t, parent); len(names) != 1 || names[0] != "dest" {
			t.Fatalf("%s holds %q after Extract (err %v)", parent, names, extractErr)
		}
		if (checkErr == nil) != (extractErr == nil) {
			t.Fatalf("Check says %v, Extract says %v", checkErr, extractErr)
		}
		if extractErr == nil {
			symlinksStayInside(t, dest)
		}
	})
}

// symlinksStayInside follows every symlink under dest through an os.Root,
// which fails when the resolution leaves dest.
func symlinksStayInside(t *testing.T, dest string) {
	root, err := os.OpenRoot(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, _ := filepath.Rel(dest, p)
		_, err = root.Stat(rel)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !isLoop(err) {
			t.Errorf("symlink %s: %v", rel, err)
		}
		return nil
	})
}

// isLoop is a symlink cycle (a -> b, b -> a): harmless, it resolves nowhere.
func isLoop(err error) bool {
	return strings.Contains(err.Error(), "too many levels of symbolic links")
}
