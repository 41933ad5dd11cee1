package tarball

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

// TestZstdCommandDecodesArtifacts guards the hosts' side: every server
// unpacks with GNU tar through the zstd command, with no flags, so each
// frame's window must fit its default memory limit, and frames at
// different levels (text at best, then better, native libraries at
// default) must read as one stream. The tree is larger than a frame and
// than the budget of text at best.
func TestZstdCommandDecodesArtifacts(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MB")
	}
	if !needTool(t, "zstd") || !needGNUTar(t) {
		return
	}
	var plain, zst bytes.Buffer
	for _, out := range []struct {
		w io.Writer
		f release.Format
	}{{&plain, release.Plain}, {&zst, release.Zstd}} {
		w, err := NewWriter(out.w, out.f, 0)
		must(t, err)
		writeBigTree(t, w)
		must(t, w.Close())
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "r1.tar.zst")
	must(t, os.WriteFile(a, zst.Bytes(), 0o644))

	cmd := exec.Command("zstd", "-d", "-c", a)
	var got, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &got, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zstd -d: %v: %s", err, stderr.Bytes())
	}
	if !bytes.Equal(got.Bytes(), plain.Bytes()) {
		t.Errorf("zstd -d gives %d bytes, want the tar stream's %d", got.Len(), plain.Len())
	}
	dest := filepath.Join(dir, "x")
	must(t, os.Mkdir(dest, 0o755))
	if b, err := exec.Command("tar", "--zstd", "-xf", a, "-C", dest).CombinedOutput(); err != nil {
		t.Fatalf("tar --zstd -x: %v: %s", err, b)
	}
	last, err := os.ReadFile(filepath.Join(dest, "chunks", "c-399.js"))
	must(t, err)
	if want := bigChunk(399); string(last) != want {
		t.Errorf("chunks/c-399.js unpacked as %d bytes, want %d", len(last), len(want))
	}
}

// writeBigTree writes 400 JavaScript-like chunks of about 100 KB and,
// among them, a native library of 512 KiB.
func writeBigTree(t *testing.T, w *Writer) {
	t.Helper()
	add := func(name string, body []byte) {
		must(t, w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}))
		_, err := w.Write(body)
		must(t, err)
	}
	must(t, w.WriteHeader(&tar.Header{Name: "chunks/", Mode: 0o755, Typeflag: tar.TypeDir, Format: tar.FormatPAX}))
	for i := range 400 {
		add(fmt.Sprintf("chunks/c-%d.js", i), []byte(bigChunk(i)))
		if i == 100 {
			noise := make([]byte, 512<<10)
			for j := range noise {
				noise[j] = byte(j*7919 + j>>9)
			}
			add("chunks/libvips-cpp.so.8.17.1", noise)
		}
	}
}

func bigChunk(i int) string {
	var b bytes.Buffer
	for j := 0; b.Len() < 100<<10; j++ {
		fmt.Fprintf(&b, "export function f%d_%d(a){return a*%d+%d}\n", i, j, j%97, (i*j)%1009)
	}
	return b.String()
}
