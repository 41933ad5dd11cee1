package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upload is a full upload of a gzip'd artifact without a file manifest.
func upload(art []byte, sum string, m Manifest) Upload {
	return Upload{Manifest: m, Format: "gz", Payload: bytes.NewReader(art), PayloadBytes: int64(len(art)), PayloadSHA256: sum}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestReceive(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	art, sum := tree{"server.js": file644("console.log(1)\n"), ".next/static/a.js": file644("a")}.artifact(t, nil)

	r, err := l.Preflight(ctx, h, "rel1", "gz", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.FreeBytes <= 0 || r.Existing != nil {
		t.Errorf("preflight = %+v, want free space and no existing release", r)
	}

	m := Manifest{ID: "rel1", SHA256: sum, Bytes: int64(len(art)), Files: 2, Time: time.Now().UTC()}
	got, err := l.Receive(ctx, h, upload(art, sum, m))
	if err != nil || !got.Made {
		t.Fatalf("Receive = %+v, %v; want made", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "releases", "rel1", ".next/static/a.js")); err != nil || string(b) != "a" {
		t.Errorf("unpacked file: %q, %v", b, err)
	}
	if got := entries(t, filepath.Join(root, "releases")); strings.Join(got, ",") != "rel1" {
		t.Errorf("releases/ holds %v, want only rel1 (no incoming left)", got)
	}
	st, err := l.State(ctx, h)
	if err != nil || !st.Has("rel1") || st.Find("rel1").Manifest.SHA256 != sum {
		t.Fatalf("state after Receive: %+v, %v", st, err)
	}

	// Again with the same artifact: the preflight sees it.
	if r, err = l.Preflight(ctx, h, "rel1", "gz", time.Hour, nil); err != nil || r.Existing == nil || r.Existing.SHA256 != sum {
		t.Errorf("preflight of a delivered release = %+v, %v", r, err)
	}
	// Same id, same artifact, racing past the preflight: not made, no error.
	if got, err := l.Receive(ctx, h, upload(art, sum, m)); err != nil || got.Made {
		t.Errorf("second Receive = %+v, %v; want not made, no error", got, err)
	}
	// Same id, other content: refused.
	art2, sum2 := tree{"server.js": file644("other")}.artifact(t, nil)
	m2 := m
	m2.SHA256 = sum2
	if _, err := l.Receive(ctx, h, upload(art2, sum2, m2)); !IsConflict(err) {
		t.Errorf("Receive of another artifact under the same id = %v, want a conflict", err)
	}
}

// Regression guard: a cut upload (early EOF) must never show up under the
// release's name, and must leave no incoming folder behind.
func TestReceiveTruncatedUploadLeavesNothing(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	art, sum := tree{"server.js": file644(strings.Repeat("x", 100000))}.artifact(t, nil)
	m := Manifest{ID: "cut1", SHA256: sum}
	u := upload(art, sum, m)
	u.Payload = bytes.NewReader(art[:len(art)/2])
	_, err := l.Receive(ctx, h, u)
	if err == nil || !strings.Contains(err.Error(), "cut or damaged") {
		t.Fatalf("Receive of half an artifact = %v, want the upload called cut", err)
	}
	if got := entries(t, filepath.Join(root, "releases")); len(got) != 0 {
		t.Errorf("releases/ holds %v after a cut upload, want nothing", got)
	}
}

func TestPreflightRefusals(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if _, err := l.Preflight(ctx, h, "r", "rar", time.Hour, nil); err == nil {
		t.Error("preflight accepted format rar")
	}
	// A release dir without manifest was not made by us: refuse to guess.
	if err := os.MkdirAll(filepath.Join(root, "releases", "foreign"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Preflight(ctx, h, "foreign", "gz", time.Hour, nil); err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Errorf("preflight over a foreign dir = %v, want refused", err)
	}
	// Stale uploads are cleaned, fresh ones (another deliver in flight) kept.
	stale := filepath.Join(root, "releases", ".incoming-old-aaaaaa")
	fresh := filepath.Join(root, "releases", ".incoming-new-bbbbbb")
	for _, d := range []string{stale, fresh} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	r, err := l.Preflight(ctx, h, "new", "gz", time.Hour, nil)
	if err != nil || r.Cleaned != 1 {
		t.Fatalf("preflight = %+v, %v; want 1 cleaned", r, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale upload not removed")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh upload removed")
	}
}

// TestPreflightRefusesATarWithoutToCommand guards receive-unpack.sh's
// needs: a host whose tar is not GNU tar (busybox) would fail in the
// middle of an upload; the preflight says so before a byte moves.
func TestPreflightRefusesATarWithoutToCommand(t *testing.T) {
	l, _, h := newLocal(t)
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1\" = --version ] && echo 'tar (busybox) 1.36.1' && exit 0\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	_, err := l.Preflight(context.Background(), h, "r", "gz", time.Hour, nil)
	if err == nil || !strings.Contains(err.Error(), "not GNU tar") {
		t.Fatalf("preflight with busybox tar = %v, want refused naming GNU tar", err)
	}
}
