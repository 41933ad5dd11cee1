package pm2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// splitMarker is what inspect.cjs reports of a file: its first line and
// the sha256 of the rest.
func splitMarker(b []byte) (string, string) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	sum := sha256.Sum256(rest)
	return string(line), hex.EncodeToString(sum[:])
}

// The marker line gives back the config the file was made from, and tells
// an untouched file from an edited one.
func TestGeneratedMarkerRoundTrip(t *testing.T) {
	for name, c := range ecoCases() {
		b, err := Ecosystem(c)
		if err != nil {
			t.Fatal(err)
		}
		line, sum := splitMarker(b)
		got, untouched, ok := Generated(line, sum)
		if !ok || !untouched || !reflect.DeepEqual(got, c) {
			t.Errorf("%s: Generated = %+v, untouched %v, ok %v; want %+v, true, true", name, got, untouched, ok, c)
		}
		edited := bytes.Replace(b, []byte("NEXT_DEPLOY_ENV:"), []byte("DATABASE_URL: 'x', NEXT_DEPLOY_ENV:"), 1)
		line, sum = splitMarker(edited)
		if _, untouched, ok := Generated(line, sum); !ok || untouched {
			t.Errorf("%s: an edited file: untouched %v, ok %v; want false, true", name, untouched, ok)
		}
	}
	for _, line := range []string{"// pm2 ecosystem", "module.exports = {", MarkerPrefix + "sha256=00 settings={bad json"} {
		if _, _, ok := Generated(line, "00"); ok {
			t.Errorf("Generated(%q) = ok, want a hand-written file", line)
		}
	}
}

// Update takes from the flags only the settings given, and always the
// deploy path and the release's app dir; Diff names each change.
func TestUpdateAndDiff(t *testing.T) {
	have := Defaults
	have.Root, have.Port = "/app", 3204
	want := Defaults
	want.Root, want.Name, want.Port, want.Instances, want.AppDir = "/app", "shop", 3000, "4", "apps/web"
	want.Envs = []string{"staging"}
	for _, tc := range []struct {
		name  string
		given []string
		diff  string
	}{
		{"nothing given", nil, `env blocks production -> production,staging (--pm2-env), app dir (not set) -> apps/web`},
		{"port and name", []string{"port", "name"}, `app name "web" -> "shop" (--name), port 3204 -> 3000 (--port), env blocks production -> production,staging (--pm2-env), app dir (not set) -> apps/web`},
	} {
		given := map[string]bool{}
		for _, g := range tc.given {
			given[g] = true
		}
		next := Update(have, want, func(f string) bool { return given[f] })
		if got := DiffText(Diff(have, next, nil)); got != tc.diff {
			t.Errorf("%s: diff %q, want %q", tc.name, got, tc.diff)
		}
		if !given["port"] && next.Port != 3204 {
			t.Errorf("%s: port %d; a flag not given must keep the file's 3204", tc.name, next.Port)
		}
	}
}

// Regression (issue 16): activate reused an ecosystem with port 3000 when
// told --port 3202, and could not tell its own file from the user's.
// Inspect reads the marker and what each app starts with, env_<env>
// included, as pm2 would.
func TestInspectReadsMarkerAndSettings(t *testing.T) {
	needNode(t)
	stubPM2(t, "[]")
	ctx := context.Background()
	root := t.TempDir()
	c := Defaults
	c.Root, c.Port, c.Name = root, 3204, "app-ts"
	gen, err := Ecosystem(c)
	if err != nil {
		t.Fatal(err)
	}
	hand := "module.exports = { apps: [{ name: 'web', cwd: '" + root + "/current', script: 'server.js', exec_mode: 'cluster', instances: 2,\n" +
		"  listen_timeout: 9000, env: { PORT: 3000, HOSTNAME: '0.0.0.0' }, env_production: { PORT: '3300' } }] };\n"
	edited := strings.Replace(string(gen), "NEXT_DEPLOY_ENV:", "SECRET_NAME: 'x', NEXT_DEPLOY_ENV:", 1)
	for _, tc := range []struct {
		name, file      string
		generated, ours bool
		port, host, app string
		listen          time.Duration
	}{
		{"generated", string(gen), true, true, "3204", "127.0.0.1", "app-ts", 15 * time.Second},
		{"generated, then edited", edited, true, false, "3204", "127.0.0.1", "app-ts", 15 * time.Second},
		{"hand-written", hand, false, false, "3300", "0.0.0.0", "web", 9 * time.Second},
	} {
		if err := os.WriteFile(filepath.Join(root, DefaultEcosystem), []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Runner{Root: root, Ecosystem: DefaultEcosystem, Env: "production"}.Inspect(ctx, remote.NewLocal())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (s.Generated != nil) != tc.generated || s.OursToRewrite() != tc.ours {
			t.Errorf("%s: generated %v, ours to rewrite %v; want %v, %v", tc.name, s.Generated != nil, s.OursToRewrite(), tc.generated, tc.ours)
		}
		if len(s.Apps) != 1 {
			t.Fatalf("%s: apps %+v", tc.name, s.Apps)
		}
		got := s.Apps[0].Config()
		if got.Name != tc.app || strconv.Itoa(got.Port) != tc.port || got.Hostname != tc.host || got.ListenTimeout != tc.listen {
			t.Errorf("%s: app %+v; want %s on %s:%s, listen timeout %s", tc.name, s.Apps[0], tc.app, tc.host, tc.port, tc.listen)
		}
	}
}

// A file written over a cut connection (stdin ends early) never takes
// the ecosystem's name: write.sh checks the sha256 before the rename.
func TestWriteRefusesShortContent(t *testing.T) {
	stubPM2(t, "[]")
	root := t.TempDir()
	file := filepath.Join(root, DefaultEcosystem)
	if err := os.WriteFile(file, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Runner{Root: root, Ecosystem: DefaultEcosystem}
	full := []byte("module.exports = { apps: [] };\n")
	sum := sha256.Sum256(full)
	c := r.cmd(writeScript, DefaultEcosystem, "replace", hex.EncodeToString(sum[:]))
	c.Stdin = bytes.NewReader(full[:10])
	if _, err := remote.NewLocal().Run(context.Background(), c); err == nil {
		t.Error("write.sh took a short content")
	}
	if b, _ := os.ReadFile(file); string(b) != "old\n" {
		t.Errorf("the file is %q after a cut write, want it unchanged", b)
	}
	if left, _ := filepath.Glob(file + ".tmp.*"); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := r.WriteEcosystem(context.Background(), remote.NewLocal(), full); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, full) {
		t.Errorf("WriteEcosystem wrote %q", b)
	}
}
