package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/hook"
)

// hooksApp is an app folder with next-deploy.yml: its staging environment
// is the local host with the deploy root root, and hooks.
func hooksApp(t *testing.T, root, hooks string) string {
	t.Helper()
	app := t.TempDir()
	t.Chdir(app)
	file := "environments:\n  staging:\n    hosts: [local]\n    path: " + root + "\n    hooks:\n" + hooks
	if err := os.WriteFile(config.FileName, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	return app
}

// A failing pre_deploy stops activate before any host is reached, and
// post_deploy does not run: nothing started.
func TestPreDeployFailureTouchesNoHost(t *testing.T) {
	root := filepath.Join(t.TempDir(), "app")
	app := hooksApp(t, root, "      pre_deploy: echo deploys are frozen >&2; exit 3\n      post_deploy: touch post.ran\n")
	status, _, stderr := runCLI(t, nil, "activate", "--env", "staging", "--release", "v1")
	if status != cli.ExitFailed || !strings.Contains(stderr, "activate v1 stopped before any host was reached: pre_deploy on the runner: exit status 3: deploys are frozen") {
		t.Errorf("status %d, want 1 naming the hook; stderr:\n%s", status, stderr)
	}
	if !strings.Contains(stderr, "pre_deploy: deploys are frozen") {
		t.Errorf("the hook's output is not streamed under its name:\n%s", stderr)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the host was touched: %s exists (%v)", root, err)
	}
	if _, err := os.Stat(filepath.Join(app, "post.ran")); !os.IsNotExist(err) {
		t.Error("post_deploy ran after a failed pre_deploy")
	}
}

// post_deploy runs when the deploy failed (here: the host lacks the
// release), told so, with the release, environment, hosts and actor, in
// the file's folder, without the runner's secrets.
func TestPostDeployRunsOnFailure(t *testing.T) {
	t.Setenv("NEXT_DEPLOY_SSH_KEY", "secret-marker")
	t.Setenv("NOTIFY_URL", "https://chat.example/hook")
	app := hooksApp(t, filepath.Join(t.TempDir(), "app"), "      post_deploy: env | grep -E '^(NEXT_DEPLOY_|NOTIFY_URL)' | sort > post.env\n")
	status, _, stderr := runCLI(t, map[string]string{"GITHUB_ACTOR": "octocat"}, "activate", "--env", "staging", "--release", "v1")
	if status != cli.ExitFailed || !strings.Contains(stderr, "does not hold release v1") {
		t.Fatalf("status %d, want 1 (no release v1); stderr:\n%s", status, stderr)
	}
	b, err := os.ReadFile(filepath.Join(app, "post.env"))
	if err != nil {
		t.Fatalf("post_deploy did not run: %v\n%s", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	got = slices.DeleteFunc(got, func(l string) bool { return strings.HasPrefix(l, "NEXT_DEPLOY_DURATION=") })
	want := []string{
		"NEXT_DEPLOY_ACTOR=octocat", "NEXT_DEPLOY_ENV=staging", "NEXT_DEPLOY_HOSTS=local", "NEXT_DEPLOY_PREVIOUS=",
		"NEXT_DEPLOY_RELEASE=v1", "NEXT_DEPLOY_RESULT=failed", "NOTIFY_URL=https://chat.example/hook",
	}
	if !slices.Equal(got, want) {
		t.Errorf("post_deploy's environment:\n%q\nwant (and a duration) %q", got, want)
	}
}

// rollback runs no hook.
func TestRollbackRunsNoHook(t *testing.T) {
	app := hooksApp(t, filepath.Join(t.TempDir(), "app"), "      pre_deploy: touch pre.ran\n      post_deploy: touch post.ran\n")
	if status, _, stderr := runCLI(t, nil, "rollback", "--env", "staging"); status != cli.ExitFailed {
		t.Fatalf("rollback with nothing to go back to: status %d\n%s", status, stderr)
	}
	for _, f := range []string{"pre.ran", "post.ran"} {
		if _, err := os.Stat(filepath.Join(app, f)); !os.IsNotExist(err) {
			t.Errorf("rollback ran a hook: %s", f)
		}
	}
}

func TestHookEnvironLeavesSecretsOut(t *testing.T) {
	in := []string{"PATH=/bin", "NEXT_DEPLOY_SSH_KEY=k", "INPUT_SSH_KEY=k", "INPUT_SSH_PASSPHRASE=p", "NEXT_DEPLOY_SSH_PASSPHRASE=p",
		"GITHUB_TOKEN=t", "INPUT_GITHUB_TOKEN=t", "SLACK_WEBHOOK=w", "INPUT_HOSTS=a"}
	if got, want := hookEnviron(in), []string{"PATH=/bin", "SLACK_WEBHOOK=w", "INPUT_HOSTS=a"}; !slices.Equal(got, want) {
		t.Errorf("hookEnviron = %q, want %q", got, want)
	}
}

// deliver's shared entries: --shared (its input) wins over the file;
// a bad entry is bad input before any host is touched.
func TestDeliverShared(t *testing.T) {
	app := t.TempDir()
	t.Chdir(app)
	if err := os.WriteFile(config.FileName, []byte("shared: [.env.production, public/uploads/]\nhosts: [local]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"", ".env, uploads/"} {
		status, _, stderr := runCLI(t, nil, "deliver", "--artifact", "/nonexistent/r1.tar.gz", "--shared", flag)
		if status != cli.ExitUsage || !strings.Contains(stderr, "r1.tar.gz") || strings.Contains(stderr, "shared") {
			t.Errorf("deliver --shared %q: status %d (want 2 for the missing artifact alone):\n%s", flag, status, stderr)
		}
	}
	env := cli.NewEnv(nil, nil, nil, func(string) string { return "" }, "test")
	if got, err := sharedEntries(env, ".env, uploads/"); err != nil || !slices.Equal(got, []string{".env", "uploads/"}) {
		t.Errorf("sharedEntries = %q, %v", got, err)
	}
	status, _, stderr := runCLI(t, nil, "deliver", "--artifact", "/nonexistent/r1.tar.gz", "--shared", "../etc/passwd,/etc/hosts")
	if status != cli.ExitUsage || !strings.Contains(stderr, `--shared: shared "../etc/passwd"`) || !strings.Contains(stderr, `shared "/etc/hosts"`) {
		t.Errorf("bad --shared: status %d:\n%s", status, stderr)
	}
}

// A hook without a timeout of its own gets the file's default, and the
// hook package bounds one it is given without any the same way.
func TestHookDefaultTimeout(t *testing.T) {
	if got := toHook("pre_deploy", config.Hook{Run: "true"}).Timeout; got != config.DefaultHookTimeout || hook.DefaultTimeout != config.DefaultHookTimeout {
		t.Errorf("timeout %s, hook.DefaultTimeout %s; want config.DefaultHookTimeout %s", got, hook.DefaultTimeout, config.DefaultHookTimeout)
	}
}
