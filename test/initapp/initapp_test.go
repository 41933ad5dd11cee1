// Package initapp tests `next-deploy init` end to end, as an adopter runs
// it: on copies of the fixture app (test/fixtures/next-app) with each
// next.config flavour (.ts, .mjs, .js), then init again (no byte changes),
// an app with an assetPrefix of its own (a finding, the diff to apply),
// and apps that, set up by init alone, build and deploy through the
// pipeline to the test bed (build-standalone, postbuild-copy-static, pack,
// deliver, activate, every setting from the next-deploy.yml init wrote).
//
// A real build costs a minute or two: under CI=true the .js flavour (a
// CommonJS config wrapped by a plugin call; the .ts one goes through the
// pipeline in test/act) is built and deployed; ND_E2E_NEXT=1 builds and
// deploys all three.
package initapp

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/test/bed"
)

// flavour is one way an app writes its next.config, without the three
// lines; each keeps the fixture's env block, which /api/health answers
// from.
type flavour struct {
	name, file, src string
	// ci: built and deployed under CI=true (all are with ND_E2E_NEXT=1).
	ci bool
}

const envBlock = `  env: {
    NEXT_DEPLOY_RELEASE: process.env.NEXT_DEPLOY_RELEASE ?? "dev",
    NEXT_DEPLOY_TEST_ROUTES: process.env.NEXT_DEPLOY_TEST_ROUTES === "1" ? "1" : "",
  },
`

var flavours = []flavour{
	{name: "ts", file: "next.config.ts"}, // the fixture's own, the lines taken out
	{name: "mjs", file: "next.config.mjs", src: "/** @type {import('next').NextConfig} */\nconst nextConfig = {\n" + envBlock + "};\n\nexport default nextConfig;\n"},
	{name: "js", file: "next.config.js", ci: true, src: "// A plugin that returns the config it is given, as withBundleAnalyzer does.\nconst withPlugin = (config) => config;\n\nmodule.exports = withPlugin({\n  reactStrictMode: true,\n" + envBlock + "});\n"},
}

var theLines = []string{
	`  output: "standalone",` + "\n",
	"  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,\n",
	"  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,\n",
}

// TestInitEachFlavour: init edits each flavour, writes next-deploy.yml and
// the workflows, and a second run changes no byte. The flavours chosen
// (see the package comment) then build and deploy to the bed with the
// settings init wrote, the hosts filled in.
func TestInitEachFlavour(t *testing.T) {
	nd := cliBinary(t)
	work := t.TempDir()
	var deploy []*app
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			a := newApp(t, work, f)
			out := a.init(t, 0)
			if !regexp.MustCompile(regexp.QuoteMeta(f.file) + ` +edited +added output, assetPrefix, generateBuildId`).MatchString(out) {
				t.Errorf("init did not say it edited %s:\n%s", f.file, out)
			}
			got, _ := os.ReadFile(filepath.Join(a.dir, f.file))
			if without := strings.Replace(string(got), strings.Join(theLines, ""), "", 1); without != a.original {
				t.Errorf("%s: want the original with the three lines added, got:\n%s", f.file, got)
			}
			for _, file := range []string{"next-deploy.yml", ".github/workflows/deploy-develop.yml", ".github/workflows/deploy-staging.yml", ".github/workflows/deploy-production.yml", ".github/workflows/rollback.yml"} {
				if _, err := os.Stat(filepath.Join(a.dir, file)); err != nil {
					t.Errorf("init did not write %s: %v", file, err)
				}
			}
			before := hashes(t, a.dir)
			if out := a.init(t, 0); !strings.Contains(out, "Nothing changed") {
				t.Errorf("second init did not say nothing changed:\n%s", out)
			}
			if after := hashes(t, a.dir); after != before {
				t.Errorf("second init changed files:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if f.ci && os.Getenv("CI") == "true" || os.Getenv("ND_E2E_NEXT") == "1" {
				deploy = append(deploy, a)
			}
		})
	}
	if len(deploy) == 0 {
		t.Log("no flavour built: set ND_E2E_NEXT=1 (all three) or CI=true (the .js one)")
		return
	}
	needTools(t)
	for _, a := range deploy { // before the bed: other packages wait for it
		a.buildAndPack(t, nd)
	}
	b := bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true})
	for _, a := range deploy {
		t.Run("deploy "+a.flavour.name, func(t *testing.T) {
			a.fillDevelop(t, b)
			for _, h := range b.Hosts { // the server command init printed
				b.RunAs(t, h, `mkdir -p "$1/shared" && touch "$1/shared/.env.production"`, h.DeployPath)
			}
			a.cli(t, 0, "deliver", "--env", "develop", "--artifact", a.artifact)
			a.cli(t, 0, "activate", "--env", "develop", "--release", a.release)
			serving(t, b, a.release)
		})
	}
}

// TestInitAppWithItsOwnAssetPrefix: init leaves such a next.config alone,
// does the rest, and exits 3 with a message that says why and the diff.
func TestInitAppWithItsOwnAssetPrefix(t *testing.T) {
	own := flavour{name: "own", file: "next.config.mjs", src: "const nextConfig = {\n  assetPrefix: \"https://cdn.example.com\",\n" + envBlock + "};\n\nexport default nextConfig;\n"}
	a := newApp(t, t.TempDir(), own)
	out := a.init(t, 3)
	for _, want := range []string{
		`next\.config\.mjs +by hand +sets assetPrefix otherwise`,
		regexp.QuoteMeta(`line 2 sets assetPrefix otherwise (assetPrefix: "https://cdn.example.com"), but next-deploy serves each release's assets under /<release>/_next/ from the servers' disk`),
		regexp.QuoteMeta("\n-  assetPrefix: \"https://cdn.example.com\",\n"),
		regexp.QuoteMeta("\n+  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,\n"),
		`next-deploy\.yml +created`,
		`\.github/workflows/deploy-develop\.yml +created`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("init's output lacks %s:\n%s", want, out)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(a.dir, own.file)); string(got) != own.src {
		t.Errorf("next.config.mjs was edited:\n%s", got)
	}
	if !strings.Contains(a.lastErr, "next.config.mjs needs a hand edit: line 2 sets assetPrefix otherwise") {
		t.Errorf("stderr %q, want the finding", a.lastErr)
	}
}

// app is one copy of the fixture.
type app struct {
	flavour  flavour
	dir      string
	nd       string
	original string // its next.config before init
	lastErr  string
	release  string
	artifact string
	bed      *bed.Bed
}

// newApp copies the fixture to work/<flavour>/app with the flavour's
// next.config.
func newApp(t *testing.T, work string, f flavour) *app {
	t.Helper()
	a := &app{flavour: f, dir: filepath.Join(work, f.name, "app"), nd: cliBinary(t), release: "init" + f.name + "1"}
	if err := build.CopySources(fixtureDir(t), a.dir); err != nil {
		t.Fatal(err)
	}
	src := f.src
	if f.file == "next.config.ts" {
		b, err := os.ReadFile(filepath.Join(a.dir, f.file))
		if err != nil {
			t.Fatal(err)
		}
		src = string(b)
		for _, l := range theLines {
			if !strings.Contains(src, l) {
				t.Fatalf("the fixture's next.config.ts lacks %q", l)
			}
			src = strings.Replace(src, l, "", 1)
		}
	} else if err := os.Remove(filepath.Join(a.dir, "next.config.ts")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, f.file), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	a.original = src
	return a
}

// init runs next-deploy init in the app and wants exit status want.
func (a *app) init(t *testing.T, want int) string {
	t.Helper()
	return a.cli(t, want, "init")
}

// cli runs the CLI in the app's directory; the bed's key and known_hosts
// when the app is on the bed.
func (a *app) cli(t *testing.T, want int, args ...string) string {
	t.Helper()
	if a.bed != nil && args[0] != "init" {
		args = append(args, "--known-hosts-file", a.bed.KnownHostsFile, "--ssh-key-file", a.bed.ClientKeyFile)
	}
	cmd := exec.Command(a.nd, args...)
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=", "SSH_AUTH_SOCK=", "NEXT_DEPLOY_ENV=", "NEXT_DEPLOY_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	a.lastErr = stderr.String()
	if got := cmd.ProcessState.ExitCode(); got != want {
		t.Fatalf("next-deploy %s: exit %d (%v), want %d\n%s\n%s", strings.Join(args, " "), got, err, want, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func (a *app) buildAndPack(t *testing.T, nd string) {
	t.Helper()
	a.cli(t, 0, "build-standalone", "--release", a.release)
	a.cli(t, 0, "postbuild-copy-static")
	dist := filepath.Join(filepath.Dir(a.dir), "dist")
	a.cli(t, 0, "pack", "--source", ".next/standalone", "--release", a.release, "--output-dir", dist)
	a.artifact = filepath.Join(dist, a.release+".tar.zst")
}

// fillDevelop puts the bed into the develop block of next-deploy.yml, as
// an adopter fills in the hosts; on the bed each app listens on its
// host's own address, so activate's ecosystem and health check say so.
func (a *app) fillDevelop(t *testing.T, b *bed.Bed) {
	t.Helper()
	a.bed = b
	file := filepath.Join(a.dir, "next-deploy.yml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	placeholder := "    hosts: [deploy@develop.example.com]\n"
	filled := "    hosts: \"" + b.HostsFlag() + "\"\n    path: ~/app\n    hostname: \"{host}\"\n    health_url: http://{host}:3000/\n"
	if !bytes.Contains(src, []byte(placeholder)) {
		t.Fatalf("next-deploy.yml lacks %q", placeholder)
	}
	if err := os.WriteFile(file, bytes.Replace(src, []byte(placeholder), []byte(filled), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serving checks every host's nginx answers with the app of release id
// and serves its chunks under /<id>/_next/static.
func serving(t *testing.T, b *bed.Bed, id string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		resp, err := c.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	chunk := regexp.MustCompile(`/` + regexp.QuoteMeta(id) + `/_next/static/[^"'\s]+\.js`)
	for _, h := range b.Hosts {
		u := "http://" + h.NginxAddr
		if code, body := get(u + "/api/health"); code != 200 || !strings.Contains(body, fmt.Sprintf(`"release":%q`, id)) {
			t.Errorf("GET %s/api/health: %d %s, want release %s", u, code, body, id)
		}
		code, page := get(u + "/")
		ch := chunk.FindString(page)
		if code != 200 || ch == "" {
			t.Errorf("GET %s/: %d, want 200 and a page referencing /%s/_next/static/", u, code, id)
			continue
		}
		if code, _ := get(u + ch); code != 200 {
			t.Errorf("GET %s%s: %d, want 200 from nginx", u, ch, code)
		}
	}
}

// hashes lists every file under dir with its sha256 and mode.
func hashes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		info, _ := d.Info()
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%x %v %s\n", sha256.Sum256(data), info.Mode(), rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	status := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(status)
}

// cliBinary builds next-deploy once for the package's tests.
func cliBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "initapp-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "next-deploy")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/next-deploy")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func fixtureDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "fixtures", "next-app"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// needTools: a real build needs node and npm, the pack zstd; missing
// ones skip on a laptop and fail under CI=true.
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			bed.SkipOrFail(t, tool+" is needed to build the fixture")
		}
	}
	bed.RequireRoot(t)
}
