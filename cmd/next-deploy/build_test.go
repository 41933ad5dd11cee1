package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
)

func TestBuildSideBadInputExits2DoingNothing(t *testing.T) {
	app := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(app, "package.json"), []byte("{}"), 0o644))
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"build: all problems at once", []string{"build-standalone", "--dir", filepath.Join(app, "nope"), "--release", "../x", "--install", "maybe", "--memory", "lots", "--bundler", "vite"},
			[]string{"--dir", `"../x"`, "--install", "--memory", "--bundler"}},
		{"build: no release outside Actions", []string{"build-standalone", "--dir", app}, []string{"--release is required"}},
		{"build: heap too small", []string{"build-standalone", "--dir", app, "--release", "r1", "--memory", "10"}, []string{"--memory"}},
		{"postbuild: missing dir", []string{"postbuild-copy-static", "--dir", filepath.Join(app, "nope")}, []string{"--dir"}},
		{"pack: all problems at once", []string{"pack", "--release", "a b", "--format", "zip", "--level", "3"}, []string{"--source is required", `"a b"`, "--format"}},
		{"pack: level out of range", []string{"pack", "--source", app, "--release", "r1", "--format", "gz", "--level", "12"}, []string{"--level", "1 to 9"}},
		{"pack: tar is not a format for servers", []string{"pack", "--source", app, "--release", "r1", "--format", "tar"}, []string{"--format"}},
		{"pack: stray argument", []string{"pack", "--source", app, "--release", "r1", "extra"}, []string{"unexpected arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, stderr := runCLI(t, nil, tc.args...)
			if status != cli.ExitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", status, cli.ExitUsage, stderr)
			}
			for _, m := range tc.mention {
				if !strings.Contains(stderr, m) {
					t.Errorf("stderr does not mention %s:\n%s", m, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	if entries, _ := os.ReadDir(app); len(entries) != 1 {
		t.Errorf("bad input touched %s: %d entries", app, len(entries))
	}
}

// standaloneTree is a finished standalone tree: server.js and its static
// files copied in.
func standaloneTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"server.js":                  "require('next')",
		".next/static/chunks/a.js":   "1",
		".next/cache/fetch-cache/x":  "cache",
		"public/robots.txt":          "User-agent: *",
		"node_modules/next/index.js": "module.exports = 1",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPackInActionsWritesOutputsAndSummary(t *testing.T) {
	src := standaloneTree(t)
	out := t.TempDir()
	ghOut := filepath.Join(t.TempDir(), "output")
	summary := filepath.Join(t.TempDir(), "summary")
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": ghOut, "GITHUB_STEP_SUMMARY": summary,
		"GITHUB_SHA": "0123456789abcdef", "INPUT_SOURCE": src, "INPUT_OUTPUT_DIR": out, "INPUT_JSON": "true",
		"SOURCE_DATE_EPOCH": "1700000000",
	}
	status, stdout, stderr := runCLI(t, env, "pack")
	if status != cli.ExitOK {
		t.Fatalf("exit %d: %s", status, stderr)
	}
	var res struct {
		Release, Artifact, SHA256 string
		Bytes                     int64
		Files                     int
		Excluded                  []string
	}
	if env, err := cli.DecodeEnvelope([]byte(stdout), &res); err != nil || !env.OK || env.Command != "pack" {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if res.Release != "0123456" || filepath.Base(res.Artifact) != "0123456.tar.zst" || res.Files != 4 {
		t.Errorf("result %+v", res)
	}
	if len(res.Excluded) != 1 || res.Excluded[0] != ".next/cache" {
		t.Errorf("excluded %q", res.Excluded)
	}
	b, _ := os.ReadFile(ghOut)
	for _, name := range []string{"artifact", "sha256", "bytes", "files", "release"} {
		if !strings.Contains(string(b), name+"<<") {
			t.Errorf("GITHUB_OUTPUT lacks %s:\n%s", name, b)
		}
	}
	if !strings.Contains(string(b), res.SHA256) {
		t.Errorf("GITHUB_OUTPUT lacks the sha256 %s", res.SHA256)
	}
	if s, _ := os.ReadFile(summary); !strings.Contains(string(s), "| artifact |") {
		t.Errorf("job summary:\n%s", s)
	}
}

func TestPackRefusesTreesThatWouldNotRun(t *testing.T) {
	noServer := t.TempDir()
	noStatic := standaloneTree(t)
	if err := os.RemoveAll(filepath.Join(noStatic, ".next/static")); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ src, want string }{
		"app dir given":  {noServer, "standalone output"},
		"static missing": {noStatic, "postbuild-copy-static"},
	} {
		t.Run(name, func(t *testing.T) {
			status, _, stderr := runCLI(t, nil, "pack", "--source", tc.src, "--release", "r1", "--output-dir", t.TempDir())
			if status != cli.ExitFailed || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", status, stderr, tc.want)
			}
		})
	}
}

// A next.config that cannot deploy is bad input (exit status 2), found
// before next build runs.
func TestBuildConfigRefusedBeforeTheBuildExits2(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	app := t.TempDir()
	for name, body := range map[string]string{
		"package.json":                                   `{"name":"app"}`,
		"node_modules/next/package.json":                 `{"name":"next","version":"16.4.6"}`,
		"node_modules/next/dist/bin/next":                `require("fs").writeFileSync("built", "")`,
		"node_modules/next/dist/shared/lib/constants.js": `exports.PHASE_PRODUCTION_BUILD = "phase-production-build";`,
		"node_modules/next/dist/server/config.js":        `exports.default = async () => ({ output: "export", assetPrefix: "", basePath: "" });`,
	} {
		p := filepath.Join(app, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	status, _, stderr := runCLI(t, nil, "build-standalone", "--dir", app, "--release", "r1", "--install", "skip", "--memory", "512")
	if status != cli.ExitUsage || !strings.Contains(stderr, `output is "export", want "standalone"`) || !strings.Contains(stderr, `assetPrefix is "", want "/r1"`) {
		t.Errorf("exit status %d, want %d naming output and assetPrefix; stderr:\n%s", status, cli.ExitUsage, stderr)
	}
	if _, err := os.Stat(filepath.Join(app, "built")); err == nil {
		t.Error("next build ran")
	}
}
