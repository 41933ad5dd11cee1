package build

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeNext stands in for next's CLI: real node, real processes, a build
// that takes no minutes. FAKE_NEXT says how it behaves.
const fakeNext = `
const fs = require("fs"), path = require("path"), cp = require("child_process");
const mode = process.env.FAKE_NEXT;
if (process.argv[2] === "child") {
  // A worker holding 200 MiB: the peak must count it.
  const b = Buffer.alloc(200 << 20, 1);
  setTimeout(() => process.exit(b[0] - 1), 1500);
  return;
}
fs.mkdirSync(".next", { recursive: true });
fs.writeFileSync(".next/env.json", JSON.stringify({ argv: process.argv.slice(2), env: process.env }));
if (mode === "heap") { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }
if (mode === "kill") process.kill(process.pid, "SIGKILL");
if (mode === "worker-killed") { console.error("Error: Next.js build worker exited with code: null and signal: SIGKILL"); process.exit(1); }
if (mode === "fail") { console.error("Type error: nope"); process.exit(1); }
if (mode === "edit-manifest") {
  // What Next 13 does when it cannot resolve @types/react: installs it.
  fs.writeFileSync("package.json", JSON.stringify({ name: "app", devDependencies: { "@types/react": "18.3.3" } }));
  fs.appendFileSync("package-lock.json", "\n");
}
const prefix = process.env.NEXT_DEPLOY_ASSET_PREFIX || "";
fs.writeFileSync(".next/required-server-files.json", JSON.stringify({ config: { assetPrefix: prefix } }));
if (mode === "not-standalone") process.exit(0);
const app = path.join(".next/standalone", process.env.FAKE_APP_DIR || ".");
fs.mkdirSync(path.join(app, ".next/server/app"), { recursive: true });
fs.mkdirSync(".next/static/chunks", { recursive: true });
fs.writeFileSync(".next/static/chunks/a.js", "1");
fs.writeFileSync(path.join(app, "server.js"), "// server");
const src = mode === "unprefixed" ? "/_next/static/chunks/a.js" : prefix + "/_next/static/chunks/a.js";
fs.writeFileSync(path.join(app, ".next/server/app/index.html"), '<script src="' + src + '"></script>');
const child = cp.spawn(process.execPath, [__filename, "child"], { stdio: "inherit" });
child.on("exit", (code) => process.exit(code));
`

// fakeConfig stands in for next/dist/server/config: the resolved config
// is what FAKE_OUTPUT and FAKE_BASE_PATH say, the asset prefix the
// build's environment.
const fakeConfig = `
exports.default = async function loadConfig(phase, dir) {
  if (phase !== "phase-production-build" || dir !== process.cwd()) throw new Error("called with " + phase + ", " + dir);
  if (process.env.FAKE_CONFIG === "throw") throw new Error("next.config.js: SyntaxError");
  return {
    output: process.env.FAKE_OUTPUT ?? "standalone",
    assetPrefix: process.env.FAKE_ASSET_PREFIX ?? process.env.NEXT_DEPLOY_ASSET_PREFIX,
    basePath: process.env.FAKE_BASE_PATH ?? "",
  };
};
`

// fakeBinWrapper is node_modules/.bin/next as pnpm writes it: a shell
// script that sets NODE_PATH, then runs next's CLI.
const fakeBinWrapper = `#!/bin/sh
basedir=$(dirname "$0")
export NODE_PATH="/pm-wrapper-node-path${NODE_PATH:+:$NODE_PATH}"
exec node "$basedir/../next/dist/bin/next" "$@"
`

// fakeLock is the fake app's package-lock.json; the hidden lockfile of an
// install of it is the same without the root.
const fakeLock = `{"name":"app","lockfileVersion":3,"requires":true,"packages":{
"":{"name":"app","dependencies":{"next":"13.5.11"}},
"node_modules/next":{"version":"13.5.11","resolved":"https://r/next-13.5.11.tgz","integrity":"sha512-x"}}}`

// fakeApp makes an npm app dir whose node_modules/next is fakeNext,
// installed as npm would (the hidden lockfile matches) but with a .bin
// wrapper like pnpm's.
func fakeApp(t *testing.T) string {
	t.Helper()
	return fakeAppOf(t, "13.5.11")
}

// fakeAppOf is fakeApp with next at version.
func fakeAppOf(t *testing.T, version string) string {
	t.Helper()
	needNode(t)
	dir := t.TempDir()
	next := filepath.Join(dir, "node_modules", "next")
	for name, body := range map[string]string{
		"dist/bin/next":                fakeNext,
		"dist/server/config.js":        fakeConfig,
		"dist/shared/lib/constants.js": `exports.PHASE_PRODUCTION_BUILD = "phase-production-build";`,
		"package.json":                 `{"name":"next","version":"` + version + `","bin":{"next":"dist/bin/next"}}`,
		"../.bin/next":                 fakeBinWrapper,
		"../.package-lock.json":        strings.Replace(fakeLock, `"":{"name":"app","dependencies":{"next":"13.5.11"}},`, "", 1),
		"../../package.json":           `{"name":"app","dependencies":{"next":"13.5.11"}}`,
		"../../package-lock.json":      fakeLock,
	} {
		p := filepath.Join(next, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o755))
	}
	return dir
}

func runFake(t *testing.T, mode string, o Options) (*Result, error) {
	t.Helper()
	if o.Dir == "" {
		o.Dir = fakeApp(t)
	}
	o.Release = "r1"
	o.Environ = append(os.Environ(), "FAKE_NEXT="+mode, "NEXT_DEPLOY_RELEASE=stale", "NODE_OPTIONS=--no-warnings")
	return Build(context.Background(), o)
}

func TestBuildSetsTheEnvironmentAndMeasuresTheTree(t *testing.T) {
	res, err := runFake(t, "ok", Options{HeapMiB: 1234, Bundler: BundlerWebpack})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Argv []string
		Env  map[string]string
	}
	b, err := os.ReadFile(filepath.Join(res.Project, ".next", "env.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &got))
	for k, want := range map[string]string{
		"NEXT_DEPLOY_RELEASE":      "r1",
		"NEXT_DEPLOY_ASSET_PREFIX": "/r1",
		"NEXT_DEPLOYMENT_ID":       "r1",
		"NEXT_TELEMETRY_DISABLED":  "1",
		"NODE_OPTIONS":             "--no-warnings --max-old-space-size=1234",
	} {
		if got.Env[k] != want {
			t.Errorf("%s=%q, want %q", k, got.Env[k], want)
		}
	}
	if !slices.Equal(got.Argv, []string{"build", "--webpack"}) {
		t.Errorf("next got %q, want [build --webpack]", got.Argv)
	}
	if res.AppDir != "." || res.HTMLChecked != 1 || res.HeapMiB != 1234 || res.HeapSource != "--memory" {
		t.Errorf("result %+v", res)
	}
	// The fake's child holds 200 MiB: only a tree-wide measure sees it.
	if res.PeakMiB < 200 {
		t.Errorf("peak %d MiB, want at least the child's 200 MiB", res.PeakMiB)
	}
	if res.Seconds <= 0 {
		t.Errorf("duration %v", res.Seconds)
	}
}

func TestBuildFindsNestedAppDir(t *testing.T) {
	t.Setenv("FAKE_APP_DIR", "apps/web")
	res, err := runFake(t, "ok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.AppDir != "apps/web" {
		t.Errorf("app dir %q, want apps/web", res.AppDir)
	}
	if !strings.HasPrefix(res.HeapSource, "3/4 of ") {
		t.Errorf("heap source %q, want the auto size", res.HeapSource)
	}
}

func TestBuildFailuresSayWhy(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		heap    int64
		oomKind string
		want    string
	}{
		{"heap", 256, OOMHeap, "raise --memory"},
		{"kill", 0, OOMKilled, "Lower --memory"},
		{"worker-killed", 0, OOMKilled, "signal: SIGKILL"},
		{"fail", 0, "", "its output above says why"},
		{"not-standalone", 0, "", `output: "standalone"`},
		{"unprefixed", 0, "", "does not load its assets from /r1/_next/"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			_, err := runFake(t, tc.mode, Options{HeapMiB: tc.heap})
			if err == nil {
				t.Fatal("Build succeeded")
			}
			var oom *OOMError
			if isOOM := errors.As(err, &oom); isOOM != (tc.oomKind != "") || (isOOM && oom.Kind != tc.oomKind) {
				t.Errorf("error %v: want OOM kind %q", err, tc.oomKind)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestBuildRefusesWhatIsNotAnApp(t *testing.T) {
	if _, err := Build(context.Background(), Options{Dir: t.TempDir(), Release: "r1"}); err == nil || !strings.Contains(err.Error(), "not a Node.js app") {
		t.Errorf("Build = %v", err)
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{}`), 0o644))
	if _, err := Build(context.Background(), Options{Dir: dir, Release: "r1", Install: true}); !errors.Is(err, ErrNoLockfile) {
		t.Errorf("Build with --install auto and no lockfile = %v, want ErrNoLockfile", err)
	}
}

func TestBuildCancelStopsTheTree(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := Options{Dir: fakeApp(t), Release: "r1", Environ: append(os.Environ(), "FAKE_NEXT=ok")}
	if _, err := Build(ctx, o); !errors.Is(err, context.Canceled) {
		t.Errorf("Build = %v, want context.Canceled", err)
	}
}

// needNode skips without node, except under CI=true, where it fails.
func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not installed (CI=true): %v", err)
		}
		t.Skipf("node is not installed: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
