package main

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/test/bed"
)

// tgzFile writes a gzip'd tar with one file per name.
func tgzFile(t *testing.T, path string, names ...string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDeliverCLI(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 2})
	dir := t.TempDir()
	conn := []string{"--hosts", b.HostsFlag(), "--path", "~/app", "--known-hosts-file", b.KnownHostsFile, "--ssh-key-file", b.ClientKeyFile}

	evil := filepath.Join(dir, "evil1.tar.gz")
	tgzFile(t, evil, "server.js", "../../.ssh/authorized_keys")
	status, _, stderr := runCLI(t, nil, append([]string{"deliver", "--artifact", evil}, conn...)...)
	if status != cli.ExitUsage || !strings.Contains(stderr, "authorized_keys") {
		t.Errorf("hostile artifact: status %d, stderr %q; want 2 naming the entry", status, stderr)
	}
	for _, h := range b.Hosts {
		if _, err := os.Stat(filepath.Join(h.DeployPath, "releases")); !os.IsNotExist(err) {
			t.Errorf("%s was touched by a refused delivery: %v", h.Name(), err)
		}
	}

	good := filepath.Join(dir, "good1.tar.gz")
	tgzFile(t, good, "server.js", ".next/static/a.js")
	out := filepath.Join(dir, "output")
	summary := filepath.Join(dir, "summary")
	for _, p := range []string{out, summary} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": out, "GITHUB_STEP_SUMMARY": summary}
	status, stdout, stderr := runCLI(t, env, append([]string{"deliver", "--artifact", good, "--json"}, conn...)...)
	if status != cli.ExitOK {
		t.Fatalf("deliver: status %d\n%s", status, stderr)
	}
	var rep deliverReport
	if env, err := cli.DecodeEnvelope([]byte(stdout), &rep); err != nil || !env.OK || env.Command != "deliver" {
		t.Fatalf("not a --json envelope of a delivery: %v\n%s", err, stdout)
	}
	if rep.Release != "good1" || len(rep.Hosts) != 2 || rep.Hosts[0].State != "delivered" || rep.Hosts[1].State != "delivered" {
		t.Errorf("report = %+v", rep)
	}
	o, _ := os.ReadFile(out)
	for _, want := range []string{"release<<", "good1", "sha256<<", rep.SHA256, "hosts<<"} {
		if !strings.Contains(string(o), want) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, o)
		}
	}
	s, _ := os.ReadFile(summary)
	if !strings.Contains(string(s), "| host | result | mode | sent | files sent | linked | copied | seconds | attempts | note |") || strings.Count(string(s), "| delivered |") != 2 {
		t.Errorf("job summary:\n%s", s)
	}

	// Other content under the same id: a finding (exit 3), not a failure;
	// the release on the hosts stays as it was.
	other := filepath.Join(t.TempDir(), "good1.tar.gz")
	tgzFile(t, other, "server.js", ".next/static/b.js")
	status, stdout, stderr = runCLI(t, nil, append([]string{"deliver", "--artifact", other, "--json"}, conn...)...)
	if status != cli.ExitFinding || !strings.Contains(stderr, "already holds release good1") {
		t.Errorf("other artifact as good1: status %d, stderr %q; want 3 naming the conflict", status, stderr)
	}
	// The envelope says the same to a machine: exit 3, both hosts, and
	// each host's result.
	rep = deliverReport{}
	envl, err := cli.DecodeEnvelope([]byte(stdout), &rep)
	if err != nil {
		t.Fatalf("--json of the conflict: %v\n%s", err, stdout)
	}
	if envl.OK || envl.Exit != cli.ExitFinding || envl.Error == nil || len(envl.Error.Hosts) != 2 || len(rep.Hosts) != 2 {
		t.Errorf("--json of the conflict: %+v, error %+v, %d host results\n%s", envl, envl.Error, len(rep.Hosts), stdout)
	}
	for _, h := range b.Hosts {
		if _, err := os.Stat(filepath.Join(h.DeployPath, "releases", "good1", ".next", "static", "a.js")); err != nil {
			t.Errorf("%s: good1 changed by a refused delivery: %v", h.Name(), err)
		}
	}
}
