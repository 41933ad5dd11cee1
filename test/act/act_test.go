package act

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/test/bed"
)

// actVersion is the act this test is run with in CI (.ci/run installs it):
// go install github.com/nektos/act@v0.2.89.
const actVersion = "0.2.89"

// TestExampleWorkflowsUnderAct: a push to develop deploys the fixture to
// the bed's hosts, a production dispatch of another commit deploys the next
// release, and the rollback dispatch returns to the first; after each, the
// balancer serves the expected release from every host.
func TestExampleWorkflowsUnderAct(t *testing.T) {
	bed.RequireRoot(t)
	actBin := need(t, "act")
	if out, err := exec.Command(actBin, "--version").Output(); err != nil || !strings.Contains(string(out), actVersion) {
		t.Logf("act --version: %q (%v); this test is known to work with %s", strings.TrimSpace(string(out)), err, actVersion)
	}
	for _, tool := range []string{"git", "go", "node", "npm"} {
		need(t, tool)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	caller := filepath.Join(work, "caller")
	artifacts := filepath.Join(work, "artifacts")
	stubs := writeStubs(t, filepath.Join(work, "stubs"), caller, artifacts)

	// The caller: the fixture app and the example workflows, unchanged.
	// develop holds commit A; main one more, B.
	copyTree(t, filepath.Join(repo, "test", "fixtures", "next-app"), caller)
	copyTree(t, filepath.Join(repo, "examples", "workflows"), filepath.Join(caller, ".github", "workflows"))
	git(t, caller, "init", "-q", "-b", "develop")
	git(t, caller, "add", "-A")
	git(t, caller, "commit", "-qm", "app")
	a := git(t, caller, "rev-parse", "HEAD")
	git(t, caller, "checkout", "-qb", "main")
	if err := os.WriteFile(filepath.Join(caller, "CHANGELOG.md"), []byte("next\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, caller, "add", "-A")
	git(t, caller, "commit", "-qm", "next")
	b7 := git(t, caller, "rev-parse", "HEAD")[:7]
	git(t, caller, "checkout", "-q", "develop")
	a7 := a[:7]

	b := bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true})
	// Each server's pm2 setup, done once by its admin from `config pm2`; on
	// the bed every app listens on its host's own loopback address.
	nd := filepath.Join(work, "next-deploy")
	run(t, repo, nil, "go", "build", "-o", nd, "./cmd/next-deploy")
	for _, h := range b.Hosts {
		eco := run(t, repo, nil, nd, "config", "pm2", "--path", h.DeployPath, "--hostname", h.Addr, "--envs", "develop,production")
		b.RunAs(t, h, `printf '%s' "$2" > "$1/ecosystem.config.js"`, h.DeployPath, eco)
	}

	base := []string{
		// The build job on GitHub's runner and the deploy job on the
		// self-hosted one (runs-on [self-hosted, next-deploy]) both run
		// here.
		"-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted",
		"--action-offline-mode", "--no-cache-server",
		"--action-cache-path", filepath.Join(work, "act-cache"),
		"--env-file", "/dev/null", "--var-file", "/dev/null", "--secret-file", "/dev/null",
		"--local-repository", "org/next-deploy@v1=" + repo,
		"--var", "HOSTS=" + b.HostsFlag(),
		"--var", "DEPLOY_PATH=~/app",
		"--var", "HEALTH_URL=http://{host}:3000/",
		"-s", "SSH_KEY=" + string(b.ClientKey),
		"-s", "KNOWN_HOSTS=" + string(b.KnownHosts),
	}
	for name, dir := range stubs {
		base = append(base, "--local-repository", name+"="+dir)
	}
	act := func(t *testing.T, args ...string) {
		t.Helper()
		runAct(t, actBin, caller, work, base, args...)
	}

	t.Run("develop push", func(t *testing.T) {
		act(t, "push", "-W", ".github/workflows/deploy-develop.yml", "--var", "PM2_ENV=develop")
		serving(t, b, a7)
	})
	t.Run("production dispatch", func(t *testing.T) {
		act(t, "workflow_dispatch", "-W", ".github/workflows/deploy-production.yml",
			"--input", "ref="+b7, "--var", "PM2_ENV=production")
		serving(t, b, b7)
	})
	t.Run("rollback dispatch", func(t *testing.T) {
		act(t, "workflow_dispatch", "-W", ".github/workflows/rollback.yml",
			"--input", "environment=production", "--var", "PM2_ENV=production")
		serving(t, b, a7)
	})
	// The all-in-one action (action.yml) on the artifact the production run
	// built: deliver (already there), barrier, activate, prune, outputs.
	t.Run("all-in-one action", func(t *testing.T) {
		artifact := filepath.Join(artifacts, "next-deploy-"+b7, b7+".tar.zst")
		wf := `name: all-in-one
on: workflow_dispatch
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - id: nd
        uses: org/next-deploy@v1
        with:
          artifact: ` + artifact + `
          hosts: ${{ vars.HOSTS }}
          path: ${{ vars.DEPLOY_PATH }}
          known-hosts: ${{ secrets.KNOWN_HOSTS }}
          ssh-key: ${{ secrets.SSH_KEY }}
          health-url: ${{ vars.HEALTH_URL }}
          pm2-env: production
          barrier-timeout: 1m
          keep: "1"
      - env:
          RELEASE: ${{ steps.nd.outputs.release }}
          HOSTS: ${{ steps.nd.outputs.hosts }}
        run: |
          echo "release=$RELEASE hosts=$HOSTS"
          test "$RELEASE" = ` + b7 + `
          test -n "$HOSTS"
`
		file := filepath.Join(work, "all-in-one.yml")
		if err := os.WriteFile(file, []byte(wf), 0o644); err != nil {
			t.Fatal(err)
		}
		act(t, "workflow_dispatch", "-W", file)
		serving(t, b, b7)
	})
}

// runAct runs act in dir with args and then base, and returns its log
// (also written to work/<test name>.log); a failed run fails the test.
func runAct(t *testing.T, actBin, dir, work string, base []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, actBin, append(args, base...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	logFile := filepath.Join(work, strings.ReplaceAll(t.Name(), "/", "_")+".log")
	os.WriteFile(logFile, out.Bytes(), 0o644)
	if err != nil {
		t.Fatalf("act %s: %v after %s; the end of its log:\n%s", strings.Join(args, " "), err, time.Since(start).Round(time.Second), tail(out.String(), 80))
	}
	t.Logf("act %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Second))
	return out.String()
}

// serving checks that every host, directly and through the balancer, has
// the app of release id answering and its static chunks served by nginx.
func serving(t *testing.T, b *bed.Bed, id string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) (int, string) {
		resp, err := client.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	want := fmt.Sprintf(`"release":%q`, id)
	var urls []string
	for _, h := range b.Hosts {
		urls = append(urls, "http://"+h.NginxAddr)
	}
	for range 2 * len(b.Hosts) { // round robin: every host in turn
		urls = append(urls, "http://"+b.BalancerAddr)
	}
	chunk := regexp.MustCompile(`/` + regexp.QuoteMeta(id) + `/_next/static/[^"'\s]+\.js`)
	for _, u := range urls {
		if code, body := get(u + "/api/health"); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s/api/health: %d %s, want 200 and %s", u, code, body, want)
		}
		code, page := get(u + "/")
		c := chunk.FindString(page)
		if code != 200 || c == "" {
			t.Errorf("GET %s/: %d, want 200 and a page referencing /%s/_next/static/", u, code, id)
			continue
		}
		if code, _ := get(u + c); code != 200 {
			t.Errorf("GET %s%s: %d, want 200 from nginx", u, c, code)
		}
	}
}

// writeStubs writes the stand-ins for the actions that need GitHub, and
// returns them as --local-repository names and directories.
func writeStubs(t *testing.T, dir, caller, artifacts string) map[string]string {
	t.Helper()
	stubs := map[string]string{
		// Real checkout cleans the workspace and checks out ref (default:
		// the triggering commit); this clones the caller from disk.
		"actions/checkout@v4": `name: checkout stand-in
description: test only; clones the caller repository from disk
inputs:
  ref:
    description: branch, tag or SHA
    default: ""
  persist-credentials:
    description: ignored
runs:
  using: composite
  steps:
    - shell: bash
      env:
        REF: ${{ inputs.ref }}
      run: |
        find "$GITHUB_WORKSPACE" -mindepth 1 -delete
        git clone -q ` + shellQuote(caller) + ` "$GITHUB_WORKSPACE"
        git -C "$GITHUB_WORKSPACE" checkout -q "${REF:-$GITHUB_SHA}"
        git -C "$GITHUB_WORKSPACE" log --oneline -1
`,
		// The caches of the build job (the package manager's store,
		// .next/cache): nothing is restored or saved, the inputs are
		// checked.
		"actions/cache@v4": `name: cache stand-in
description: test only; restores and saves nothing
inputs:
  path:
    description: what would be cached
  key:
    description: the cache key
  restore-keys:
    description: ignored
runs:
  using: composite
  steps:
    - shell: bash
      env:
        CACHE_PATH: ${{ inputs.path }}
        KEY: ${{ inputs.key }}
      run: |
        echo "cache stand-in: $CACHE_PATH as $KEY"
        test -n "$CACHE_PATH" && test -n "$KEY"
        case $KEY in *--* | *-) echo "cache key $KEY has an empty part" >&2; exit 1 ;; esac
`,
		"actions/setup-node@v4": `name: setup-node stand-in
description: test only; node is installed
inputs:
  node-version:
    description: ignored
runs:
  using: composite
  steps:
    - shell: bash
      run: node --version
`,
		"actions/upload-artifact@v4": `name: upload-artifact stand-in
description: test only; copies the files to a directory
inputs:
  name:
    description: artifact name
  path:
    description: files, one a line
  if-no-files-found:
    description: ignored
  compression-level:
    description: ignored
  retention-days:
    description: ignored
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        FILES: ${{ inputs.path }}
      run: |
        dest=` + shellQuote(artifacts) + `/$NAME
        mkdir -p "$dest"
        while IFS= read -r f; do [ -z "$f" ] || cp "$f" "$dest/"; done <<< "$FILES"
        ls -l "$dest"
`,
		"actions/download-artifact@v4": `name: download-artifact stand-in
description: test only; copies the files from the directory upload used
inputs:
  name:
    description: artifact name
  path:
    description: destination
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        DEST: ${{ inputs.path }}
      run: |
        mkdir -p "$DEST"
        cp ` + shellQuote(artifacts) + `/"$NAME"/* "$DEST/"
        ls -l "$DEST"
`,
	}
	dirs := map[string]string{}
	for name, text := range stubs {
		d := filepath.Join(dir, strings.NewReplacer("/", "-", "@", "-").Replace(name))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "action.yml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs[name] = d
	}
	return dirs
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// need finds a tool; act also where go install puts it.
func need(t *testing.T, tool string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	if tool == "act" {
		if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "act")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		bed.SkipOrFail(t, "act not found: go install github.com/nektos/act@v"+actVersion)
	}
	bed.SkipOrFail(t, tool+" not found")
	return ""
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	env := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	return strings.TrimSpace(run(t, dir, env, "git", args...))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// copyTree copies src to dst without what a local run may have left.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := build.CopySources(src, dst); err != nil {
		t.Fatal(err)
	}
}
