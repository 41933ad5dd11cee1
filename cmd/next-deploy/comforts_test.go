package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
)

// Regression (issue 14): a failing remote script read "take deploy lock in
// /x on local: on local: exit status 1": the host was named by the
// command's caller and again by the exit error. Every layer wraps once.
func TestHostNamedOnceInErrors(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runCLI(t, nil, "prune", "--hosts", "local", "--path", notADir)
	if status != cli.ExitFailed {
		t.Fatalf("prune under a file: status %d, want %d\n%s%s", status, cli.ExitFailed, stdout, stderr)
	}
	if n := strings.Count(stderr, "on local"); n != 1 || strings.Contains(stderr, "on local: on local") {
		t.Errorf("stderr names the host %d times, want once:\n%s", n, stderr)
	}
}

// With --json a failing command prints one envelope on stdout too: bad
// input before any host (result null), and a failure on a host (the
// host named, each host's result kept).
func TestJSONEnvelopeOnFailure(t *testing.T) {
	status, stdout, _ := runCLI(t, nil, "releases", "--hosts", "bad!", "--json")
	var none any
	env, err := cli.DecodeEnvelope([]byte(stdout), &none)
	if status != cli.ExitUsage || err != nil || env.OK || env.Exit != cli.ExitUsage || env.Command != "releases" ||
		env.Error == nil || !strings.Contains(env.Error.Message, `"bad!"`) || env.Result != nil {
		t.Errorf("bad input: status %d, %v, envelope %+v\n%s", status, err, env, stdout)
	}

	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runCLI(t, nil, "prune", "--hosts", "local", "--path", notADir, "--json")
	var hosts []struct {
		Host  string `json:"host"`
		Error string `json:"error"`
	}
	env, err = cli.DecodeEnvelope([]byte(stdout), &hosts)
	if err != nil {
		t.Fatalf("prune --json: %v\n%s", err, stdout)
	}
	if status != cli.ExitFailed || env.OK || env.Exit != cli.ExitFailed || env.Error == nil || env.Error.Host != "local" {
		t.Errorf("failure on a host: status %d, envelope %+v, error %+v", status, env, env.Error)
	}
	if len(hosts) != 1 || hosts[0].Host != "local" || hosts[0].Error == "" {
		t.Errorf("result %+v, want local's failed prune", hosts)
	}
	if !strings.Contains(stderr, "prune failed on 1 of 1 hosts") {
		t.Errorf("stderr lacks the error:\n%s", stderr)
	}
}

func TestVersionFlagPrintsTheVersion(t *testing.T) {
	want := "next-deploy test " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		status, stdout, stderr := runCLI(t, nil, args...)
		if status != cli.ExitOK || stdout != want {
			t.Errorf("%q: status %d, stdout %q, want %q\n%s", args, status, stdout, want, stderr)
		}
	}
}

// A mistyped command or flag comes back with the one meant.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"delivr"}, `unknown command "delivr"; did you mean "deliver"?`},
		{[]string{"stauts"}, `did you mean "status"?`},
		{[]string{"releases", "--hots", "a"}, "flag provided but not defined: -hots; did you mean --hosts?"},
	} {
		status, _, stderr := runCLI(t, nil, tc.args...)
		if status != cli.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: status %d, stderr:\n%s\nwant %q", tc.args, status, stderr, tc.want)
		}
		// Said once: the flag package no longer prints it (and the whole
		// usage) before Main does.
		if n := strings.Count(stderr, tc.want); n != 1 || strings.Contains(stderr, "flags:") {
			t.Errorf("%q: said %d times, or with the usage:\n%s", tc.args, n, stderr)
		}
	}
}
