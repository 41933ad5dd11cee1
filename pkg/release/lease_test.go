package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// incoming lists the uploads under releases/ (.incoming-*), full paths.
func incoming(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "releases", IncomingPfx+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// backdate sets the mtime of paths d ago.
func backdate(t *testing.T, d time.Duration, paths ...string) {
	t.Helper()
	old := time.Now().Add(-d)
	for _, p := range paths {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// heldUpload is a receive whose envelope stops after 2 MiB of a 4 MiB
// payload: in flight, its script in tar reading stdin (so past its lease).
type heldUpload struct {
	pw   *io.PipeWriter
	done chan error
}

func holdUpload(t *testing.T, l Layout, id string) *heldUpload {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	u := &heldUpload{pw: pw, done: make(chan error, 1)}
	go func() {
		_, err := l.Receive(ctx, remote.NewLocal(), Upload{
			Manifest: Manifest{ID: id}, Format: "gz",
			Payload: pr, PayloadBytes: 4 << 20, PayloadSHA256: strings.Repeat("0", 64),
		})
		u.done <- err
	}()
	t.Cleanup(func() {
		pw.CloseWithError(errors.New("test over"))
		cancel()
		<-u.done
	})
	// io.Pipe's Write returns once the reader took it all: with 2 MiB
	// taken, far more than the pipes between hold, tar is reading.
	if _, err := pw.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	return u
}

// Regression (issue 13 item 3): cleanup judged an upload by its folder's
// mtime, which stands still while the envelope streams in (and which the
// archive's ./ entry may set back), so a second deliver (stale 2h) or a
// prune removed a first one in flight. An upload's lease (holder alive, or
// a recent heartbeat) now keeps it; a dead holder's upload goes once its
// heartbeat is older than the stale duration.
func TestCleanupSparesAnUploadInFlight(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	up := holdUpload(t, l, "r1")
	inc := incoming(t, root)
	if len(inc) == 0 {
		t.Fatal("no incoming folder while the upload is in flight")
	}
	backdate(t, 3*time.Hour, inc...)
	if n, err := l.CleanStale(ctx, h, 2*time.Hour); err != nil || n != 0 {
		t.Errorf("CleanStale(2h) during the upload = %d, %v; want 0", n, err)
	}
	if r, err := l.Preflight(ctx, h, "r2", "gz", 2*time.Hour, nil); err != nil || r.Cleaned != 0 {
		t.Errorf("another deliver's preflight (stale 2h) = %+v, %v; want nothing cleaned", r, err)
	}
	if got := incoming(t, root); len(got) != len(inc) {
		t.Fatalf("the upload in flight was removed: %v left of %v", got, inc)
	}

	// The holder dies without its exit trap (kill -9, a crash): its
	// folder stays until its heartbeat is older than the stale duration.
	lease := filepath.Join(inc[0], leaseFile)
	b, err := os.ReadFile(lease)
	if err != nil {
		t.Fatalf("no lease in the incoming folder: %v", err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatalf("lease %q: %v", b, err)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	up.pw.CloseWithError(errors.New("holder killed"))
	if err := <-up.done; err == nil {
		t.Fatal("Receive of a killed holder succeeded")
	}
	up.done <- nil // what holdUpload's cleanup waits for, taken here
	if n, err := l.CleanStale(ctx, h, 2*time.Hour); err != nil || n != 0 {
		t.Errorf("CleanStale(2h) with a dead holder's fresh heartbeat = %d, %v; want 0", n, err)
	}
	backdate(t, 3*time.Hour, filepath.Join(inc[0], heartbeatFile), lease)
	if n, err := l.CleanStale(ctx, h, 2*time.Hour); err != nil || n != 1 {
		t.Errorf("CleanStale(2h) with a dead holder's 3h-old heartbeat = %d, %v; want 1", n, err)
	}
	if got := incoming(t, root); len(got) != 0 {
		t.Errorf("left after the dead upload was cleaned: %v", got)
	}
}

// rootEntryArtifact is tr packed with a ./ entry first, of mode 0705 and
// mtime 1970, as `tar -C dir -c .` writes it.
func rootEntryArtifact(t *testing.T, tr tree) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o705, ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, e := range tr.files() {
		h := &tar.Header{Name: "./" + e.Path, Mode: int64(e.Mode), ModTime: time.Unix(946684800, 0), Typeflag: tar.TypeReg, Size: e.Size}
		if e.Type == TypeDir {
			h.Typeflag, h.Name, h.Size = tar.TypeDir, h.Name+"/", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(tr[e.Path].body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

// Regression (issue 13 item 3): tar gave the folder it unpacked into the
// mode and mtime of the archive's ./ entry, so an upload fresh from tar
// looked decades old to cleanup. Held right after tar: the incoming
// folder keeps its own mode and mtime; the release ends 0755, dated now,
// and verified.
func TestArchiveRootEntryLeavesTheIncomingFolderAlone(t *testing.T) {
	gate := t.TempDir()
	// Let a held receive go whatever happens, or its tar waits forever.
	t.Cleanup(func() { _ = os.WriteFile(filepath.Join(gate, "go"), nil, 0o644) })
	wrapTool(t, "tar", `"$real" "$@" || exit
case " $* " in *" -p "*)
	touch `+gate+`/unpacked
	while [ ! -e `+gate+`/go ]; do sleep 0.02; done ;;
esac`)
	l, root, h := newLocal(t)
	ctx := context.Background()
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	tr := tree{"server.js": file644("ok\n"), "lib/a.js": file644("a\n")}
	art, sum := rootEntryArtifact(t, tr)
	start := time.Now().Add(-2 * time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := l.Receive(ctx, h, Upload{Manifest: Manifest{ID: "r1", SHA256: sum}, Format: "gz", Files: tr.files(),
			Payload: bytes.NewReader(art), PayloadBytes: int64(len(art)), PayloadSHA256: sum})
		done <- err
	}()
	waitFor(t, "tar to unpack", func() bool { _, err := os.Stat(filepath.Join(gate, "unpacked")); return err == nil })
	for _, d := range incoming(t, root) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() == 0o705 || fi.ModTime().Before(start) {
			t.Errorf("%s after tar: mode %o, mtime %s; the archive's ./ entry set them", filepath.Base(d), fi.Mode().Perm(), fi.ModTime())
		}
	}
	if n, err := l.CleanStale(ctx, h, 2*time.Hour); err != nil || n != 0 {
		t.Errorf("CleanStale(2h) mid-receive = %d, %v; want 0", n, err)
	}
	if err := os.WriteFile(filepath.Join(gate, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Receive: %v", err)
	}
	fi, err := os.Stat(filepath.Join(root, "releases", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 || fi.ModTime().Before(start) {
		t.Errorf("release r1: mode %o, mtime %s; want 755 and now", fi.Mode().Perm(), fi.ModTime())
	}
}
