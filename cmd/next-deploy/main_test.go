package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/org/next-deploy/internal/cli"
)

// runCLI runs the CLI in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	status = run(context.Background(), cli.NewEnv(&out, &errb, strings.NewReader(""), getenv, "test"), args)
	return status, out.String(), errb.String()
}

// listener counts the connections made to it: proof that nothing was
// touched.
func listener(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), conns
}

func TestBadInputExits2TouchingNoHost(t *testing.T) {
	addr, conns := listener(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"garbage host", []string{"releases", "--hosts", "deploy@" + addr + ",bad!host", "--known-hosts-file", kh}, []string{`"bad!host"`}},
		{"duplicate host", []string{"releases", "--hosts", addr + " " + addr, "--known-hosts-file", kh}, []string{"duplicate"}},
		{"empty entry", []string{"releases", "--hosts", addr + ",,", "--known-hosts-file", kh}, []string{"empty entry"}},
		{"relative path", []string{"releases", "--hosts", addr, "--path", "app", "--known-hosts-file", kh}, []string{"--path", `"app"`}},
		{"all problems at once", []string{"releases", "--hosts", "x!", "--path", "/a/../b", "--parallel", "0"}, []string{`"x!"`, "'..'", "--parallel"}},
		{"status: bad ecosystem and history", []string{"status", "--hosts", addr, "--known-hosts-file", kh, "--ecosystem", "releases/x/eco.js", "--history", "-1"}, []string{"--ecosystem", "--history"}},
		{"heap-snapshot: every bad flag", []string{"heap-snapshot", "--hosts", addr, "--known-hosts-file", kh, "--workers", "0,$(reboot)", "--disk-margin", "lots", "--timeout", "0s", "--out", " "},
			[]string{`"$(reboot)"`, "--disk-margin", "--timeout", "--out"}},
		{"activate: watch too short", []string{"activate", "--release", "v1", "--hosts", addr, "--known-hosts-file", kh, "--watch", "3s"}, []string{"--watch 3s"}},
		{"activate: watch shorter than a worker must be to be judged", []string{"activate", "--release", "v1", "--hosts", addr, "--known-hosts-file", kh, "--watch", "30s"}, []string{"--watch 30s", "judged once it is 1m"}},
		{"unknown flag", []string{"releases", "--nope"}, []string{"nope"}},
		{"unknown command", []string{"deploy-everything"}, []string{"unknown command"}},
		{"no command", nil, []string{"no command"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, stderr := runCLI(t, nil, tc.args...)
			if status != cli.ExitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", status, cli.ExitUsage, stderr)
			}
			for _, m := range tc.mention {
				if !strings.Contains(stderr, m) {
					t.Errorf("stderr does not mention %s:\n%s", m, stderr)
				}
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to a host during bad-input runs, want 0", n)
	}
}

// Every command answers --help with its usage and exit 0.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range newApp().Commands {
		status, _, stderr := runCLI(t, nil, c.Name(), "--help")
		if status != cli.ExitOK || !strings.Contains(stderr, "usage: next-deploy "+c.Name()) {
			t.Errorf("%s --help: status %d, output:\n%s", c.Name(), status, stderr)
		}
	}
}

func TestActionsInputsAndMasking(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "output")
	if err := os.WriteFile(out, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GITHUB_ACTIONS":       "true",
		"GITHUB_OUTPUT":        out,
		"INPUT_HOSTS":          "bad!",
		"INPUT_SSH_KEY":        "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1saW5l\n-----END OPENSSH PRIVATE KEY-----",
		"INPUT_SSH_PASSPHRASE": "hunter2",
	}
	status, stdout, stderr := runCLI(t, env, "releases")
	if status != cli.ExitUsage {
		t.Fatalf("status %d, want 2 (bad input from INPUT_HOSTS); stderr:\n%s", status, stderr)
	}
	if !strings.Contains(stdout, "::error::") || !strings.Contains(stdout, `"bad!"`) {
		t.Errorf("want an ::error:: annotation naming the entry, got:\n%s", stdout)
	}
	for _, secret := range []string{"c2VjcmV0LWtleS1saW5l", "hunter2"} {
		if !strings.Contains(stdout, "::add-mask::"+secret) {
			t.Errorf("secret line %q not masked; stdout:\n%s", secret, stdout)
		}
		if strings.Count(stdout+stderr, secret) != 1 {
			t.Errorf("secret %q appears outside its mask command", secret)
		}
	}
}
