package actions

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGetBinaryRefusesTamperedDownload(t *testing.T) {
	const tag = "v9.9.9"
	asset := assetName(tag)
	published := []byte("#!/bin/sh\necho published\n")
	tampered := []byte("#!/bin/sh\necho tampered\n")
	fr := newFakeRelease(t, tag, map[string][]byte{
		"checksums.txt": checksumsTxt(map[string][]byte{asset: published}),
		asset:           tampered,
	})
	// Go is present: a refused download must not fall back to a build.
	gb, goLog := newGetBinary(t, true)
	gb.release(tag, fr.srv.URL)

	status, stdout, stderr, _ := gb.run(t)
	if status == 0 {
		t.Fatalf("exit 0 with a tampered binary; stdout %q, stderr:\n%s", stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want no path", stdout)
	}
	sumOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	for _, want := range []string{"::error", "refusing " + asset, sumOf(tampered), sumOf(published), "nothing was installed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := regularFiles(t, gb.cache); len(got) != 0 {
		t.Errorf("the cache holds %v after a refused download, want nothing", got)
	}
	wantNoGo(t, goLog, "go was run after a refused download")
	if got := fr.requests(); !slices.Equal(got, []string{"/" + tag + "/checksums.txt", "/" + tag + "/" + asset}) {
		t.Errorf("requests %v", got)
	}
}

func TestGetBinaryInstallsVerifiedDownloadOnceThenUsesCache(t *testing.T) {
	const tag = "v9.9.9"
	asset := assetName(tag)
	binary := []byte("#!/bin/sh\necho published\n")
	other := []byte("#!/bin/sh\necho other platform\n")
	otherAsset := fmt.Sprintf("next-deploy_%s_plan9_mips", tag)
	fr := newFakeRelease(t, tag, map[string][]byte{
		"checksums.txt": checksumsTxt(map[string][]byte{asset: binary, otherAsset: other}),
		asset:           binary,
	})
	gb, goLog := newGetBinary(t, true)
	gb.release(tag, fr.srv.URL)

	want := filepath.Join(gb.cache, "next-deploy", tag, runtime.GOOS+"-"+runtime.GOARCH, "next-deploy") + "\n"
	status, stdout, stderr, _ := gb.run(t)
	if status != 0 || stdout != want {
		t.Fatalf("status %d, stdout %q, want 0 and %q; stderr:\n%s", status, stdout, want, stderr)
	}
	got, err := os.ReadFile(strings.TrimSpace(stdout))
	if err != nil || !bytes.Equal(got, binary) {
		t.Fatalf("installed %q (%v), want the published binary", got, err)
	}
	if fi, _ := os.Stat(strings.TrimSpace(stdout)); fi.Mode()&0o111 == 0 {
		t.Errorf("installed binary is not executable: %v", fi.Mode())
	}
	if n := len(regularFiles(t, gb.cache)); n != 1 {
		t.Errorf("cache holds %d files, want the binary alone", n)
	}
	before := len(fr.requests())
	var took time.Duration
	for range 3 { // the best of three: the machine may be busy with other tests
		var d time.Duration
		status, stdout, stderr, d = gb.run(t)
		if status != 0 || stdout != want {
			t.Fatalf("cached: status %d, stdout %q; stderr:\n%s", status, stdout, stderr)
		}
		if took == 0 || d < took {
			took = d
		}
	}
	if after := len(fr.requests()); after != before {
		t.Errorf("a cached binary still made %d requests", after-before)
	}
	if took > time.Second {
		t.Errorf("start-up with a cached binary took %v, want well under a second", took)
	}
	t.Logf("start-up with a cached binary: %v", took)
	wantNoGo(t, goLog, "go was run although the release had a binary")
}

// TestGetBinaryBuildsWhenNoRelease: a branch ref has no release; the
// binary is built from the action's own source, cached under the ref and a
// digest of that source, and found there the next time.
func TestGetBinaryBuildsWhenNoRelease(t *testing.T) {
	fr := newFakeRelease(t, "none", nil)
	gb, goLog := newGetBinary(t, true)
	gb.release("feature/x", fr.srv.URL)

	status, stdout, stderr, _ := gb.run(t)
	if status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr)
	}
	dir := filepath.Join(gb.cache, "next-deploy")
	if m, _ := regexp.MatchString(`^`+regexp.QuoteMeta(dir)+`/feature_x\+[0-9a-f]{12}/`+runtime.GOOS+"-"+runtime.GOARCH+`/next-deploy\n$`, stdout); !m {
		t.Errorf("path %q, want %s/feature_x+<digest>/<os>-<arch>/next-deploy", stdout, dir)
	}
	log, _ := os.ReadFile(goLog)
	src, _ := filepath.Abs(repoRoot)
	src, _ = filepath.EvalSymlinks(src)
	if !strings.HasPrefix(string(log), src+": build ") || !strings.Contains(string(log), "./cmd/next-deploy") {
		t.Errorf("go ran as %q, want go build ./cmd/next-deploy in %s", log, src)
	}
	os.Remove(goLog)
	if status2, stdout2, _, _ := gb.run(t); status2 != 0 || stdout2 != stdout {
		t.Errorf("second run: %d %q, want the cached %q", status2, stdout2, stdout)
	}
	wantNoGo(t, goLog, "built again although cached")
}

func TestGetBinaryFailsClearlyWithoutReleaseOrGo(t *testing.T) {
	fr := newFakeRelease(t, "none", nil)
	gb, _ := newGetBinary(t, false)
	gb.release("main", fr.srv.URL)
	status, stdout, stderr, _ := gb.run(t)
	if status == 0 || stdout != "" {
		t.Fatalf("status %d, stdout %q, want a failure", status, stdout)
	}
	for _, want := range []string{"::error", "ref 'main'", "Go is not installed", "setup-go"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestGetBinaryReadsRefFromActionPath: GITHUB_ACTION_REF is empty in
// composite actions (actions/runner#2473) and ${{ github.action_ref }} has
// been empty in some runners too; the script then reads the ref from where
// the runner unpacked the action: _actions/<owner>/<repo>/<ref>/.
func TestGetBinaryReadsRefFromActionPath(t *testing.T) {
	const tag = "v9.9.8"
	asset := assetName(tag)
	binary := []byte("#!/bin/sh\necho published\n")
	fr := newFakeRelease(t, tag, map[string][]byte{
		"checksums.txt": checksumsTxt(map[string][]byte{asset: binary}),
		asset:           binary,
	})
	gb, _ := newGetBinary(t, false)
	lib := filepath.Join(t.TempDir(), "_work", "_actions", "org", "next-deploy", tag, "actions", "_lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(gb.script)
	if err != nil {
		t.Fatal(err)
	}
	gb.script = filepath.Join(lib, "get-binary.sh")
	if err := os.WriteFile(gb.script, data, 0o755); err != nil {
		t.Fatal(err)
	}
	gb.env["NEXT_DEPLOY_DOWNLOAD_BASE"] = fr.srv.URL
	status, stdout, stderr, _ := gb.run(t)
	if status != 0 || !strings.Contains(stdout, "/"+tag+"/") {
		t.Fatalf("status %d, stdout %q; stderr:\n%s", status, stdout, stderr)
	}
	if !strings.Contains(stderr, "release "+tag+" of org/next-deploy") {
		t.Errorf("stderr does not name the release and repository:\n%s", stderr)
	}
}
