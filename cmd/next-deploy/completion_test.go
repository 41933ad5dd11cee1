package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
)

// Every completion script names every command; bash's parses (zsh's and
// fish's where those shells are installed).
func TestCompletionScripts(t *testing.T) {
	check := map[string][]string{"bash": {"-n"}, "zsh": {"-n"}, "fish": {"--no-execute"}}
	for _, shell := range cli.Shells {
		t.Run(shell, func(t *testing.T) {
			status, stdout, stderr := runCLI(t, nil, "completion", shell)
			if status != cli.ExitOK {
				t.Fatalf("completion %s: status %d\n%s", shell, status, stderr)
			}
			for _, c := range newApp().Commands {
				if !strings.Contains(stdout, c.Name()) {
					t.Errorf("the %s script does not mention %s", shell, c.Name())
				}
			}
			for _, flag := range []string{"hosts", "known-hosts-file", "json", "release"} {
				if !strings.Contains(stdout, flag) {
					t.Errorf("the %s script does not mention --%s", shell, flag)
				}
			}
			path, err := exec.LookPath(shell)
			if err != nil {
				if shell == "bash" {
					t.Fatal("bash not installed")
				}
				t.Skipf("%s not installed", shell)
			}
			file := filepath.Join(t.TempDir(), "next-deploy."+shell)
			if err := os.WriteFile(file, []byte(stdout), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(path, append(check[shell], file)...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", shell, check[shell], err, out)
			}
		})
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		if status, _, _ := runCLI(t, nil, args...); status != cli.ExitUsage {
			t.Errorf("%q: status %d, want %d", args, status, cli.ExitUsage)
		}
	}
}
