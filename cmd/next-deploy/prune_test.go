package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
)

// --stale-after is the one flag of deliver and prune for abandoned
// uploads; prune's --stale-minutes still works, says it is deprecated,
// and wins (the all-in-one action hands prune both).
func TestPruneStaleFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		removed bool
		warn    bool
	}{
		{"default 2h keeps a 45m-old upload", nil, false, false},
		{"stale-after 30m", []string{"--stale-after", "30m"}, true, false},
		{"deprecated stale-minutes 30", []string{"--stale-minutes", "30"}, true, true},
		{"stale-minutes wins over stale-after", []string{"--stale-after", "2h", "--stale-minutes", "30"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "app")
			up := filepath.Join(root, "releases", ".incoming-r1-abcdef")
			if err := os.MkdirAll(up, 0o755); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-45 * time.Minute)
			if err := os.Chtimes(up, old, old); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"prune", "--hosts", "local", "--path", root}, tc.args...)
			status, _, stderr := runCLI(t, nil, args...)
			if status != cli.ExitOK {
				t.Fatalf("exit status %d; stderr:\n%s", status, stderr)
			}
			_, err := os.Stat(up)
			if removed := os.IsNotExist(err); removed != tc.removed {
				t.Errorf("upload removed = %v, want %v", removed, tc.removed)
			}
			if warned := strings.Contains(stderr, "--stale-minutes (input stale-minutes) is deprecated"); warned != tc.warn {
				t.Errorf("deprecation said = %v, want %v; stderr:\n%s", warned, tc.warn, stderr)
			}
		})
	}
}

// A --stale-after under a minute is refused: an upload's heartbeat beats
// every 15 seconds. It once became 2h silently (whole minutes, 0 taken as
// unset).
func TestStaleAfterUnderAMinuteIsRefused(t *testing.T) {
	root := filepath.Join(t.TempDir(), "app")
	for _, args := range [][]string{
		{"prune", "--hosts", "local", "--path", root, "--stale-after", "30s"},
		{"deliver", "--hosts", "local", "--path", root, "--artifact", "x.tar.gz", "--stale-after", "30s"},
	} {
		status, _, stderr := runCLI(t, nil, args...)
		if status != cli.ExitUsage || !strings.Contains(stderr, "--stale-after 30s") {
			t.Errorf("%s --stale-after 30s: status %d; stderr:\n%s", args[0], status, stderr)
		}
	}
}
