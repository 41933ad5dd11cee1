package getbinary_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// releaseSign runs a copy of scripts/release-sign.sh in a tree whose
// actions/_lib/release-signers is signers, on dist, with secret as
// RELEASE_SIGNING_KEY. It returns the exit status and the output, and fails
// the test if the script leaves anything in its TMPDIR or an ssh-agent
// running.
func releaseSign(t *testing.T, signers, dist, secret string) (int, string) {
	t.Helper()
	for _, tool := range []string{"bash", "ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			missingTool(t, tool)
		}
	}
	root := t.TempDir()
	for _, dir := range []string{"scripts", "actions/_lib"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(repoRoot, "scripts", "release-sign.sh"), filepath.Join(root, "scripts", "release-sign.sh"))
	if err := os.WriteFile(filepath.Join(root, "actions", "_lib", "release-signers"), []byte(signers), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "release-sign.sh"), dist)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "RELEASE_SIGNING_KEY="+secret)
	out, err := cmd.CombinedOutput()
	status := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		status = ee.ExitCode()
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("release-sign.sh left %v in TMPDIR (the agent's socket, a key?)", left)
	}
	if runtime.GOOS == "linux" {
		// The agent was started with -a <TMPDIR>/...: none may still run.
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if cl, err := os.ReadFile(p); err == nil && bytes.Contains(cl, []byte(tmp)) {
				t.Errorf("an ssh-agent of release-sign.sh still runs: %s %q", p, cl)
			}
		}
	}
	return status, string(out)
}

// TestReleaseSignOutputIsAccepted: what the release workflow publishes
// (checksums.txt signed by scripts/release-sign.sh) is what get-binary.sh
// runs, and the key never touches the disk.
func TestReleaseSignOutputIsAccepted(t *testing.T) {
	key := newKey(t, "org")
	secret, err := os.ReadFile(key.priv)
	if err != nil {
		t.Fatal(err)
	}
	binary := script("published")
	dist := t.TempDir()
	files := map[string][]byte{assetName(tag): binary, "checksums.txt": checksumsTxt(map[string][]byte{assetName(tag): binary})}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dist, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if status, out := releaseSign(t, key.signers(), dist, string(secret)); status != 0 {
		t.Fatalf("release-sign.sh: status %d:\n%s", status, out)
	}
	sig, err := os.ReadFile(filepath.Join(dist, "checksums.txt.sig"))
	if err != nil {
		t.Fatal(err)
	}
	files["checksums.txt.sig"] = sig

	r := newRunner(t, false)
	rs := newReleases(t)
	rs.put(tag, files)
	wantRuns(t, r.run(t, newAction(t, t.TempDir(), orgRepo, tag, key.signers(), rs)), r.cached(orgRepo, tag), "published")
}

func TestReleaseSignRefuses(t *testing.T) {
	key := newKey(t, "org")
	other, err := os.ReadFile(newKey(t, "other").priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, secret, want string }{
		{"no secret", "", "RELEASE_SIGNING_KEY is empty"},
		{"not a key", "hunter2", "not an OpenSSH private key"},
		{"a key not in release-signers", string(other), "does not verify against"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist := t.TempDir()
			if err := os.WriteFile(filepath.Join(dist, "checksums.txt"), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			status, out := releaseSign(t, key.signers(), dist, tc.secret)
			if status != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("status %d, output:\n%s\nwant 1 and %q", status, out, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dist, "checksums.txt.sig")); !os.IsNotExist(err) {
				t.Errorf("a refused signing left checksums.txt.sig (%v)", err)
			}
		})
	}
}

// TestCommittedReleaseSigners: the trust root that ships with the actions
// holds ed25519 keys for the identity and namespace the scripts use, and
// nothing a maintainer might paste by mistake (a private key).
func TestCommittedReleaseSigners(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "actions", "_lib", "release-signers"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		t.Fatal("actions/_lib/release-signers holds a private key")
	}
	keys := 0
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != identity || f[1] != `namespaces="`+namespace+`"` || f[2] != "ssh-ed25519" {
			t.Errorf("line %d: %q, want %s namespaces=%q ssh-ed25519 <key> [comment]", i+1, line, identity, namespace)
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(f[3])
		// The wire format: string "ssh-ed25519", string <32-byte key>.
		if err != nil || len(blob) != 4+11+4+32 || binary.BigEndian.Uint32(blob) != 11 ||
			string(blob[4:15]) != "ssh-ed25519" || binary.BigEndian.Uint32(blob[15:]) != 32 {
			t.Errorf("line %d: %q is not an ed25519 public key (%v)", i+1, f[3], err)
			continue
		}
		keys++
	}
	if keys == 0 {
		t.Error("actions/_lib/release-signers trusts no key: every release would be refused")
	}
}
