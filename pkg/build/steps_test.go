package build

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/standalone"
)

// envOf is the environment and argv the fake next recorded.
func envOf(t *testing.T, dir string) (argv []string, env map[string]string) {
	t.Helper()
	var got struct {
		Argv []string
		Env  map[string]string
	}
	b, err := os.ReadFile(filepath.Join(dir, ".next", "env.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &got))
	return got.Argv, got.Env
}

// Regression: next ran as node node_modules/next/dist/bin/next, without
// the environment of pnpm's .bin wrapper (NODE_PATH); Next 13 then could
// not find @types/react and installed it, editing the checkout.
func TestBuildRunsNextThroughThePackageManager(t *testing.T) {
	res, err := runFake(t, "ok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, env := envOf(t, res.Project)
	if !strings.HasPrefix(env["NODE_PATH"], "/pm-wrapper-node-path") || env["npm_command"] != "exec" {
		t.Errorf("next ran with NODE_PATH=%q npm_command=%q, want them from npx and node_modules/.bin/next", env["NODE_PATH"], env["npm_command"])
	}
	if got, want := res.NextCommand, "npx --no-install next build"; got != want {
		t.Errorf("next command %q, want %q", got, want)
	}
}

// Regression: a build that edited package.json and the lockfile passed.
func TestBuildRefusesAChangedCheckout(t *testing.T) {
	_, err := runFake(t, "edit-manifest", Options{})
	if !errors.Is(err, ErrCheckoutChanged) {
		t.Fatalf("Build = %v, want ErrCheckoutChanged", err)
	}
	for _, want := range []string{"package.json and ", "package-lock.json changed during next build", "devDependencies"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

// Regression: a config that could not deploy was found after the build
// (15 to 100 s on a real app).
func TestBuildChecksTheResolvedConfigFirst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		basePath string
		want     []string // "" : the build runs
	}{
		{"can deploy", nil, "", nil},
		{"basePath given", []string{"FAKE_BASE_PATH=/docs"}, "/docs", nil},
		{"basePath given, assetPrefix without it", []string{"FAKE_BASE_PATH=/docs", "FAKE_ASSET_PREFIX=/r1"}, "/docs", []string{`assetPrefix is "/r1", want "/docs/r1"`}},
		{"export", []string{"FAKE_OUTPUT=export"}, "", []string{`output is "export", want "standalone"`}},
		{"no output", []string{"FAKE_OUTPUT="}, "", []string{`output is ""`}},
		{"basePath unknown to nginx", []string{"FAKE_BASE_PATH=/docs"}, "", []string{`basePath is "/docs": give --base-path /docs`, "config nginx"}},
		{"basePath differs", nil, "/docs", []string{`--base-path says "/docs"`}},
		{"every problem at once", []string{"FAKE_OUTPUT=export", "FAKE_BASE_PATH=/a"}, "", []string{"output is", "basePath is"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			dir := fakeApp(t)
			res, err := runFake(t, "ok", Options{Dir: dir, BasePath: tc.basePath})
			_, statErr := os.Stat(filepath.Join(dir, ".next", "env.json"))
			if tc.want == nil {
				if err != nil || res.Config == nil || res.Config.Output != "standalone" || res.Config.AssetPrefix != standalone.AssetPrefix(tc.basePath, "r1") {
					t.Fatalf("Build = %+v, %v; want a build with the resolved config", res, err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Build = %v, want a ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if statErr == nil {
				t.Error("next build ran before the config was refused")
			}
		})
	}
}

func TestConfigCheckWantsTheReleaseAssetPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{{"/r1", true}, {"", false}, {"/docs", false}, {"https://cdn.example/r1", false}} {
		err := NextConfig{Output: "standalone", AssetPrefix: tc.prefix}.Check("app", "r1", "")
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "NEXT_DEPLOY_ASSET_PREFIX")) {
			t.Errorf("assetPrefix %q: %v, want ok=%v", tc.prefix, err, tc.ok)
		}
	}
}

func TestBuildGoesOnWhenTheConfigLoaderFails(t *testing.T) {
	t.Setenv("FAKE_CONFIG", "throw")
	res, err := runFake(t, "ok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "next.config not checked before the build") || !strings.Contains(res.Warnings[0], "SyntaxError") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// fakeNPM puts an npm on PATH that records that it ran.
func fakeNPM(t *testing.T) (ran string) {
	t.Helper()
	bin := t.TempDir()
	ran = filepath.Join(bin, "ran")
	must(t, os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\necho \"$@\" > "+ran+"\n"), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return ran
}

// Regression: --install auto ran npm ci, which deletes node_modules, on
// every build, also when node_modules was what the lockfile says.
func TestBuildSkipsAnInstallThatIsUpToDate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         Options
		stale     bool
		installed bool
	}{
		{"auto, up to date", Options{Install: true}, false, false},
		{"auto, stale", Options{Install: true}, true, true},
		{"always", Options{Install: true, InstallAlways: true}, false, true},
		{"skip", Options{}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := fakeNPM(t)
			tc.o.Dir = fakeApp(t)
			if tc.stale {
				hidden := filepath.Join(tc.o.Dir, "node_modules", ".package-lock.json")
				b, err := os.ReadFile(hidden)
				must(t, err)
				must(t, os.WriteFile(hidden, []byte(strings.ReplaceAll(string(b), "13.5.11", "13.5.10")), 0o644))
			}
			res, err := runFake(t, "ok", tc.o)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(ran)
			if res.Installed != tc.installed || (statErr == nil) != tc.installed {
				t.Errorf("installed %v (npm ran: %v), want %v", res.Installed, statErr == nil, tc.installed)
			}
			if want := tc.name == "auto, up to date"; want != (res.InstallSkipped == "node_modules matches package-lock.json") {
				t.Errorf("install skipped: %q", res.InstallSkipped)
			}
		})
	}
}

func TestBuildWarnsWhenNextIgnoresHostname(t *testing.T) {
	for _, tc := range []struct {
		version string
		warn    bool
	}{{"13.3.4", true}, {"13.4.19", false}, {"13.5.11", false}, {"16.4.6", false}} {
		o := Options{Dir: fakeAppOf(t, tc.version)}
		res, err := runFake(t, "ok", o)
		if err != nil {
			t.Fatal(err)
		}
		warned := len(res.Warnings) == 1 && strings.Contains(res.Warnings[0], "next "+tc.version+" ignores --hostname")
		if warned != tc.warn || res.NextVersion != tc.version {
			t.Errorf("next %s: version %q, warnings %q; want a warning: %v", tc.version, res.NextVersion, res.Warnings, tc.warn)
		}
	}
}
