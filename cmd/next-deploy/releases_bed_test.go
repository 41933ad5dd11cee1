package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/golden"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/status"
	"github.com/org/next-deploy/test/bed"
)

// seedReleases puts releases, a current link and history on a bed host the
// way deliver and activate leave them.
const seedReleases = `
set -eu
mk() {
	mkdir -p ~/app/releases/"$1"/.next-deploy
	printf 'x' > ~/app/releases/"$1"/server.js
	printf '{"id":"%s","sha256":"%s","bytes":%s,"files":%s,"app_dir":"","time":"%s"}' "$1" "$2" "$3" "$4" "$5" > ~/app/releases/"$1"/.next-deploy/release.json
}
mk 1a2b3c4 1111111111111111111111111111111111111111111111111111111111111111 1200 3 2026-03-01T10:00:00Z
mk 9f8e7d6 2222222222222222222222222222222222222222222222222222222222222222 1300 3 2026-03-02T10:00:00Z
mk 5c5c5c5 3333333333333333333333333333333333333333333333333333333333333333 1400 3 2026-03-03T10:00:00Z
mkdir -p ~/app/releases/.incoming-abcdef0-x7 ~/app/.next-deploy
ln -s releases/9f8e7d6 ~/app/current
printf '%s\n' '{"time":"2026-03-01T11:00:00Z","action":"activate","release":"1a2b3c4","from":""}' \
	'{"time":"2026-03-02T11:00:00Z","action":"activate","release":"9f8e7d6","from":"1a2b3c4"}' > ~/app/.next-deploy/history.jsonl
`

func TestReleasesOverSSHGolden(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 2})
	b.RunAs(t, b.Hosts[0], seedReleases)
	code, stdout, stderr := runCLI(t, map[string]string{}, "releases",
		"--hosts", b.HostsFlag(), "--path", "~/app", "--json",
		"--known-hosts-file", b.KnownHostsFile, "--ssh-key-file", b.ClientKeyFile)
	if code != cli.ExitOK {
		t.Fatalf("status %d; stderr:\n%s", code, stderr)
	}
	var got []status.HostReleases
	if env, err := cli.DecodeEnvelope([]byte(stdout), &got); err != nil || !env.OK || env.Command != "releases" {
		t.Fatalf("output is not a --json envelope: %v\n%s", err, stdout)
	}
	// The bed's user names and disk usage differ from run to run: name
	// hosts by index and check sizes here, then leave them out.
	for i := range got {
		got[i].Host = strings.ReplaceAll(got[i].Host, b.Hosts[i].User, "user")
		for j := range got[i].Releases {
			if got[i].Releases[j].DiskBytes <= 0 {
				t.Errorf("%s %s: disk bytes %d", got[i].Host, got[i].Releases[j].ID, got[i].Releases[j].DiskBytes)
			}
			got[i].Releases[j].DiskBytes = 0
		}
	}
	norm, _ := json.MarshalIndent(got, "", "  ")
	golden.Check(t, filepath.Join("testdata", "releases.golden.json"), append(norm, '\n'))

	// The terminal table says the same for a person.
	code, stdout, _ = runCLI(t, map[string]string{}, "releases",
		"--hosts", b.HostsFlag(), "--path", "~/app",
		"--known-hosts-file", b.KnownHostsFile, "--ssh-key-file", b.ClientKeyFile)
	if code != cli.ExitOK {
		t.Fatalf("table run: status %d", code)
	}
	for _, want := range []string{"9f8e7d6", "current", "1a2b3c4", "previous", "no releases"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}
