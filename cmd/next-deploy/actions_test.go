package main

// The GitHub Actions around the CLI: every action.yml input is a flag of
// the command it runs, so the two cannot drift. These tests need the
// command list (newApp) and the CLI's source; the ones that need only the
// files (workflows, docs/actions.md) are in test/actions (get-binary.sh: test/getbinary),
// which also reads the files for these.

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/org/next-deploy/test/actions"
)

const repoRoot = "../.."

// notInputs are flags no action exposes: results go to GITHUB_OUTPUT and
// the job summary in Actions, so --json would only clutter the log.
var notInputs = map[string]string{
	"json":       "Actions read GITHUB_OUTPUT, not --json",
	"ssh-config": "for operators on laptops: a runner has no ~/.ssh/config of the fleet's (known-hosts, ssh-key, jump are the inputs)",
}

// rootSkips are the flags the all-in-one action (action.yml) does not pass
// to a step, and why. A flag missing from the action and from this list
// fails the test, so a new flag is a decision, not an accident.
var rootSkips = map[string]map[string]string{
	"deliver": notInputs,
	"barrier-wait": {
		"json":         notInputs["json"],
		"ssh-config":   notInputs["ssh-config"],
		"mode":         "hosts mode only: in jobs mode the barrier would wait for this very step",
		"jobs":         "jobs mode only",
		"expect":       "jobs mode only",
		"step":         "jobs mode only",
		"github-token": "jobs mode only",
	},
	"activate": notInputs,
	"prune": {
		"json":       notInputs["json"],
		"ssh-config": notInputs["ssh-config"],
		"dry-run":    "the all-in-one action really deploys; use actions/prune to preview",
	},
}

// cmdFlagSet is the flag set of one next-deploy command, as the CLI builds it.
func cmdFlagSet(t *testing.T, name string) *flag.FlagSet {
	t.Helper()
	for _, c := range newApp().Commands {
		if c.Name() == name {
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			c.SetFlags(fs)
			return fs
		}
	}
	return nil
}

// actionEnv is the environment the actions give the program besides INPUT_*.
var actionEnv = map[string]string{
	"NEXT_DEPLOY_ACTION_REF":        "${{ github.action_ref }}",
	"NEXT_DEPLOY_ACTION_REPOSITORY": "${{ github.action_repository }}",
}

var (
	goSourceOnce sync.Once
	goSource     string
)

// setsOutput reports whether the CLI's source names an output: a string
// literal on a SetOutput line or just above one (the barrier loops over its
// output names).
func setsOutput(t *testing.T, name string) bool {
	goSourceOnce.Do(func() {
		files, _ := filepath.Glob("*.go")
		var b strings.Builder
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		goSource = b.String()
	})
	lines := strings.Split(goSource, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "SetOutput(") {
			continue
		}
		for _, above := range lines[max(0, i-4) : i+1] {
			if strings.Contains(above, `"`+name+`"`) {
				return true
			}
		}
	}
	return false
}

func TestStepActionsMatchCLIFlags(t *testing.T) {
	for _, step := range actions.Steps {
		t.Run(step, func(t *testing.T) {
			file := filepath.Join(repoRoot, "actions", step, "action.yml")
			ac := checkAction(t, file)
			if len(ac.passed) != 1 || ac.passed[step] == nil {
				t.Fatalf("%s: want one step running next-deploy %s, got %v", file, step, slices.Sorted(maps.Keys(ac.passed)))
			}
			inputs := ac.doc.MapAt("inputs")
			cmdFlagSet(t, step).VisitAll(func(f *flag.Flag) {
				if _, skip := notInputs[f.Name]; skip {
					return
				}
				if inputs.MapAt(f.Name) == nil {
					t.Errorf("%s: no input %s for --%s (%s)", file, f.Name, f.Name, f.Usage)
				}
				if got := ac.passed[step][f.Name]; got != f.Name {
					t.Errorf("%s: --%s is fed from %q, want input %s", file, f.Name, got, f.Name)
				}
			})
		})
	}
}

func TestRootActionMatchesCLIFlags(t *testing.T) {
	file := filepath.Join(repoRoot, "action.yml")
	ac := checkAction(t, file)
	var order []string
	for _, s := range ac.doc.ListAt("runs", "steps") {
		run, _ := s.(*actions.Map).Get("run").(string)
		if m := execLine.FindStringSubmatch(run); m != nil {
			order = append(order, m[1])
		}
	}
	if want := []string{"deliver", "barrier-wait", "activate", "prune"}; !slices.Equal(order, want) {
		t.Errorf("%s runs %v, want %v", file, order, want)
	}
	for cmd, skips := range rootSkips {
		fs := cmdFlagSet(t, cmd)
		if fs == nil {
			t.Errorf("rootSkips: no command %s", cmd)
			continue
		}
		fs.VisitAll(func(f *flag.Flag) {
			_, passed := ac.passed[cmd][f.Name]
			why, skipped := skips[f.Name]
			switch {
			case passed && skipped:
				t.Errorf("%s: --%s of %s is passed but rootSkips says %q", file, f.Name, cmd, why)
			case !passed && !skipped:
				t.Errorf("%s: --%s of %s (%s) is neither passed nor listed in rootSkips with a reason", file, f.Name, cmd, f.Usage)
			}
		})
		for name := range skips {
			if fs.Lookup(name) == nil {
				t.Errorf("rootSkips: %s has no flag --%s any more", cmd, name)
			}
		}
	}
}
