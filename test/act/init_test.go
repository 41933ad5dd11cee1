package act

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/org/next-deploy/test/bed"
)

// TestInitWorkflowsUnderAct runs what `next-deploy init` writes, as an
// adopter does: init in a copy of the fixture whose next.config lacks the
// three lines, the hosts of develop filled in next-deploy.yml, nothing
// else. A push to develop deploys with the file's settings alone (no
// variable); a production dispatch of another commit deploys with the
// GitHub Environment's variables winning over the file's placeholder
// hosts; the rollback dispatch of develop, file only, returns to the
// first. Each deploy's summary starts with ref, commit, actor and the
// previous release.
func TestInitWorkflowsUnderAct(t *testing.T) {
	bed.RequireRoot(t)
	actBin := need(t, "act")
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
	nd := filepath.Join(work, "next-deploy")
	run(t, repo, nil, "go", "build", "-o", nd, "./cmd/next-deploy")

	copyTree(t, filepath.Join(repo, "test", "fixtures", "next-app"), caller)
	withoutTheLines(t, filepath.Join(caller, "next.config.ts"))
	git(t, caller, "init", "-q", "-b", "develop")
	out := run(t, caller, nil, nd, "init")
	t.Logf("next-deploy init:\n%s", out)
	if !regexp.MustCompile(`next\.config\.ts +edited`).MatchString(out) {
		t.Fatalf("init did not edit next.config.ts")
	}
	if _, err := os.Stat(filepath.Join(caller, ".github", "workflows", "deploy-develop.yml")); err != nil {
		t.Fatalf("init wrote no workflows: %v", err)
	}

	b := bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true})
	// The adopter fills in develop's hosts; on the bed the deploy root is
	// ~/app and each app listens on its host's own address.
	fillDevelop(t, filepath.Join(caller, "next-deploy.yml"), b.HostsFlag())
	for _, h := range b.Hosts {
		eco := run(t, repo, nil, nd, "config", "pm2", "--path", h.DeployPath, "--hostname", h.Addr, "--envs", "develop,production")
		b.RunAs(t, h, `printf '%s' "$2" > "$1/ecosystem.config.js" && mkdir -p "$1/shared" && touch "$1/shared/.env.production"`, h.DeployPath, eco)
	}
	git(t, caller, "add", "-A")
	git(t, caller, "commit", "-qm", "next-deploy init")
	a7 := git(t, caller, "rev-parse", "HEAD")[:7]
	git(t, caller, "checkout", "-qb", "main")
	if err := os.WriteFile(filepath.Join(caller, "CHANGELOG.md"), []byte("next\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, caller, "add", "-A")
	git(t, caller, "commit", "-qm", "next")
	b7 := git(t, caller, "rev-parse", "HEAD")[:7]
	git(t, caller, "checkout", "-q", "develop")

	// No variable but the ones a test needs to reach the bed: the secrets.
	base := []string{
		"-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted",
		"--action-offline-mode", "--no-cache-server",
		"--action-cache-path", filepath.Join(work, "act-cache"),
		"--env-file", "/dev/null", "--var-file", "/dev/null", "--secret-file", "/dev/null",
		"--local-repository", "org/next-deploy@v1=" + repo,
		"-s", "SSH_KEY=" + string(b.ClientKey),
		"-s", "KNOWN_HOSTS=" + string(b.KnownHosts),
	}
	for name, dir := range stubs {
		base = append(base, "--local-repository", name+"="+dir)
	}
	summary := func(t *testing.T, log, ref, previous string) {
		t.Helper()
		re := regexp.MustCompile(`ref ` + regexp.QuoteMeta(ref) + `, commit [0-9a-f]{40}, actor \S+, previous release: ` + regexp.QuoteMeta(previous))
		if !re.MatchString(log) {
			t.Errorf("the summary's first line: want ref %s ... previous release: %s; the log has:\n%s", ref, previous, grepLines(log, "previous release"))
		}
	}

	t.Run("develop push, settings from next-deploy.yml", func(t *testing.T) {
		log := runAct(t, actBin, caller, work, base, "push", "-W", ".github/workflows/deploy-develop.yml")
		serving(t, b, a7)
		summary(t, log, "develop", "none: the first deploy")
	})
	t.Run("production dispatch, variables win over the file", func(t *testing.T) {
		log := runAct(t, actBin, caller, work, base, "workflow_dispatch", "-W", ".github/workflows/deploy-production.yml",
			"--input", "ref="+b7,
			"--var", "HOSTS="+b.HostsFlag(), "--var", "DEPLOY_PATH=~/app", "--var", "HEALTH_URL=http://{host}:3000/")
		serving(t, b, b7)
		summary(t, log, b7, "`"+a7+"`")
	})
	t.Run("rollback dispatch of develop, settings from next-deploy.yml", func(t *testing.T) {
		runAct(t, actBin, caller, work, base, "workflow_dispatch", "-W", ".github/workflows/rollback.yml",
			"--input", "environment=develop")
		serving(t, b, a7)
	})
}

// withoutTheLines takes the three next-deploy lines out of the fixture's
// next.config, so init has them to add.
func withoutTheLines(t *testing.T, file string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, l := range []string{
		"  output: \"standalone\",\n",
		"  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,\n",
		"  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,\n",
	} {
		if !strings.Contains(s, l) {
			t.Fatalf("%s lacks %q", file, l)
		}
		s = strings.Replace(s, l, "", 1)
	}
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fillDevelop puts the bed's hosts, deploy root and health URL into the
// develop block of the next-deploy.yml init wrote, as an adopter edits it.
func fillDevelop(t *testing.T, file, hosts string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	placeholder := "    hosts: [deploy@develop.example.com]\n"
	if !strings.Contains(string(src), placeholder) {
		t.Fatalf("%s lacks %q:\n%s", file, placeholder, src)
	}
	filled := "    hosts: \"" + hosts + "\"\n    path: ~/app\n    health_url: http://{host}:3000/\n"
	if err := os.WriteFile(file, []byte(strings.Replace(string(src), placeholder, filled, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
