package release

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// logChecks wraps sha256sum so that the lists receive.sh's verify checks
// (sha256sum -c, from stdin or <incoming>/ctl/sums) are appended to the
// returned log; the list derive.sh checks (a file of its own) is not.
func logChecks(t *testing.T) string {
	t.Helper()
	log := filepath.Join(t.TempDir(), "checked")
	wrapTool(t, "sha256sum", `eval "last=\${$#}"
case " $* :$last" in
*" -c "*":-") tee -a '`+log+`' | "$real" "$@"; exit ;;
*" -c "*":"*/ctl/sums) cat "$last" >> '`+log+`' ;;
esac
exec "$real" "$@"`)
	return log
}

// checked reads the paths logged by logChecks, sorted, and empties the log.
func checked(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(log)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if _, p, ok := strings.Cut(line, "  "); ok {
			got = append(got, p)
		}
	}
	slices.Sort(got)
	return got
}

// Regression (issue 15 items 4 and 6): verify re-read every file of a
// release, a second full pass over the tree. A full upload's files are
// proven by the payload's sha256 (checked while it unpacks) and the
// listing; a delta hashes only what is new on the host: the files sent
// and derived, and a base file changed since the base was verified.
func TestVerifyHashesOnlyWhatIsNewOnTheHost(t *testing.T) {
	log := logChecks(t)
	l, root, h := newLocal(t)
	ctx := context.Background()
	receiveFull(t, l, v1, "v1")
	if got := checked(t, log); len(got) != 0 {
		t.Errorf("full upload hashed %q again, want nothing (the payload's sha256 covers it)", got)
	}
	if err := l.Switch(ctx, h, "v1"); err != nil {
		t.Fatal(err)
	}
	// Same bytes written again: only its mtime says it may have changed.
	touched := "node_modules/next/package.json"
	p := filepath.Join(root, "releases", "v1", touched)
	if err := os.WriteFile(p, []byte(v1[touched].body), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if _, _, got, err := receiveDelta(t, l, v2, "v2"); err != nil || !got.Made {
		t.Fatalf("delta receive = %+v, %v", got, err)
	}
	want := []string{".next/BUILD_ID", ".next/server/app/index.html", ".next/static/chunks/new-222.js", "bin/start", touched, "server.js"}
	if got := checked(t, log); !slices.Equal(got, want) {
		t.Errorf("delta hashed %q,\nwant %q (sent, derived, and the base file changed since v1 landed)", got, want)
	}
}

// A payload damaged on the way (one byte, same length) is refused by its
// checksum although tar unpacked it on the same pass: nothing is left,
// and the release never gets its name.
func TestFullUploadRefusesADamagedPayload(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	art, sum := v1.artifact(t, nil)
	for _, at := range []int{len(art) / 2, len(art) - 1} {
		bad := bytes.Clone(art)
		bad[at] ^= 0x40
		_, err := l.Receive(ctx, h, Upload{Manifest: Manifest{ID: "v1", SHA256: sum}, Format: "gz", Files: v1.files(),
			Payload: bytes.NewReader(bad), PayloadBytes: int64(len(bad)), PayloadSHA256: sum})
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Errorf("byte %d of %d damaged: Receive = %v, want a checksum mismatch", at, len(art), err)
		}
		if got := entries(t, filepath.Join(root, "releases")); len(got) != 0 {
			t.Errorf("byte %d damaged: releases/ holds %v, want nothing", at, got)
		}
	}
}

// The file manifest goes into the envelope as the caller gzip'd it once
// for every host (Upload.FilesGzip), else gzip'd by the upload itself;
// the payload is the last member, so the host streams it through.
func TestEnvelope(t *testing.T) {
	art, sum := v1.artifact(t, nil)
	// The caller's is told apart by its content: Receive takes it as given.
	given := GzipFiles(v2.files())
	for _, tc := range []struct {
		name     string
		gz, want []byte
	}{{"made once by the caller", given, given}, {"made by the upload", nil, GzipFiles(v1.files())}} {
		var env bytes.Buffer
		u := Upload{Format: "gz", Files: v1.files(), FilesGzip: tc.gz, Payload: bytes.NewReader(art), PayloadBytes: int64(len(art)), PayloadSHA256: sum}
		if err := writeEnvelope(&env, u); err != nil {
			t.Fatal(err)
		}
		var names []string
		tr := tar.NewReader(&env)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
			b, _ := io.ReadAll(tr)
			if h.Name == envFiles && !bytes.Equal(b, tc.want) {
				t.Errorf("%s: %s is not the manifest gzip'd", tc.name, envFiles)
			}
		}
		if want := []string{envFiles, envPayload}; !slices.Equal(names, want) {
			t.Errorf("%s: envelope holds %q, want %q", tc.name, names, want)
		}
	}
}
