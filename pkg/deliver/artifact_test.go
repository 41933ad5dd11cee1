package deliver

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeTgz writes a gzip'd tar of the given headers (files get a body of
// one byte).
func writeTgz(t *testing.T, path string, hs []tar.Header) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, h := range hs {
		if h.Typeflag == tar.TypeReg {
			h.Size = 1
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInspectRefusesHostileArchives(t *testing.T) {
	reg := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg} }
	for _, tc := range []struct {
		name string
		hs   []tar.Header
	}{
		{"dot-dot", []tar.Header{reg("server.js"), reg("../evil.js")}},
		{"nested dot-dot", []tar.Header{reg("a/../../evil.js")}},
		{"absolute", []tar.Header{reg("/etc/cron.d/evil")}},
		{"escaping symlink", []tar.Header{{Name: "node_modules/x", Typeflag: tar.TypeSymlink, Linkname: "../../../etc"}}},
		{"absolute symlink", []tar.Header{{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}},
		{"write through a symlink", []tar.Header{{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "."}, reg("d/x")}},
		{"device", []tar.Header{{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r1.tar.gz")
			writeTgz(t, p, tc.hs)
			if _, _, err := Inspect(context.Background(), p, ""); !errors.Is(err, ErrBadArtifact) {
				t.Errorf("Inspect = %v, want ErrBadArtifact", err)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "abc1234.tar.gz")
	writeTgz(t, p, []tar.Header{{Name: "apps/web/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "apps/web/server.js", Typeflag: tar.TypeReg}})
	a, id, err := Inspect(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	if id != "abc1234" || a.Format != "gz" || a.Files != 1 || a.AppDir != "apps/web" || len(a.SHA256) != 64 {
		t.Errorf("Inspect = %+v, %q", a, id)
	}
	if _, _, err := Inspect(context.Background(), p, "bad id!"); !errors.Is(err, ErrBadArtifact) {
		t.Errorf("bad --release accepted: %v", err)
	}
	// A .sha256 beside it that does not match: the artifact changed.
	if err := os.WriteFile(p+".sha256", []byte("0000000000000000000000000000000000000000000000000000000000000000  abc1234.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Inspect(context.Background(), p, ""); !errors.Is(err, ErrBadArtifact) {
		t.Errorf("mismatching .sha256 accepted: %v", err)
	}
	if err := os.WriteFile(p+".sha256", []byte(a.SHA256+"  abc1234.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Inspect(context.Background(), p, ""); err != nil {
		t.Errorf("matching .sha256 refused: %v", err)
	}
	q := filepath.Join(dir, "abc.zip")
	if err := os.WriteFile(q, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Inspect(context.Background(), q, ""); !errors.Is(err, ErrBadArtifact) {
		t.Errorf("a .zip accepted: %v", err)
	}
}

// Inspect keeps the app's files that hold the release id (a delta may
// make them on a host from its base's), never a package's.
func TestInspectKeepsTheFilesHoldingTheID(t *testing.T) {
	art := filepath.Join(t.TempDir(), "x.tar.gz")
	reg := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg} }
	writeTgz(t, art, []tar.Header{reg("server.js"), reg(".next/BUILD_ID"), reg("node_modules/next/x.js")})
	a, id, err := Inspect(context.Background(), art, "")
	if err != nil || id != "x" {
		t.Fatalf("Inspect = %v, %q; want release x", err, id)
	}
	var got []string
	for p := range a.Holding.Content {
		got = append(got, p)
	}
	slices.Sort(got)
	if a.Holding.ID != "x" || !slices.Equal(got, []string{".next/BUILD_ID", "server.js"}) {
		t.Errorf("Holding = %s %q, want x [.next/BUILD_ID server.js]", a.Holding.ID, got)
	}
}
