package remote

import (
	"context"
	"strings"
	"testing"
)

// Regression (issue 13): local scripts inherited the whole environment, so
// INPUT_SSH_KEY reached pm2 (and every worker and dump.pm2), and
// RUNNER_TRACKING_ID made a self-hosted runner kill the pm2 daemon after
// the job. Only the allow-list reaches a local script.
func TestLocalScriptsGetAnAllowListedEnvironment(t *testing.T) {
	t.Setenv("INPUT_SSH_KEY", "-----BEGIN OPENSSH PRIVATE KEY-----")
	t.Setenv("NEXT_DEPLOY_SSH_PASSPHRASE", "pass")
	t.Setenv("GITHUB_TOKEN", "ghs_x")
	t.Setenv("RUNNER_TRACKING_ID", "github_123")
	t.Setenv("PM2_HOME", "/tmp/pm2-home")
	t.Setenv("LC_ALL", "C.UTF-8")
	res, err := NewLocal().Run(context.Background(), Cmd{Script: "env"})
	if err != nil {
		t.Fatal(err)
	}
	env := string(res.Stdout)
	for _, gone := range []string{"INPUT_SSH_KEY", "NEXT_DEPLOY_SSH_PASSPHRASE", "GITHUB_TOKEN", "RUNNER_TRACKING_ID"} {
		if strings.Contains(env, gone+"=") {
			t.Errorf("%s reached the local script", gone)
		}
	}
	for _, kept := range []string{"PATH=", "HOME=", "PM2_HOME=/tmp/pm2-home", "LC_ALL=C.UTF-8"} {
		if !strings.Contains(env, kept) {
			t.Errorf("%s missing from the local script's environment:\n%s", kept, env)
		}
	}
}

// Regression (issue 14): ExitError said "on local: exit status 1" and
// every caller wrapped it with "... on local: ", so users read "on local:
// on local:". The caller names the host; the exit error does not.
func TestExitErrorLeavesTheHostToTheCaller(t *testing.T) {
	_, err := NewLocal().Run(context.Background(), Cmd{Script: `echo "it broke" >&2; exit 3`})
	ee, ok := err.(*ExitError)
	if !ok || ee.Host != "local" || ee.Code != 3 {
		t.Fatalf("got %#v (%v), want exit 3 from local", err, err)
	}
	if got, want := err.Error(), "exit status 3: it broke"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}
