package activate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/hook"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// fakeHooks logs each hook into the fleet's log, as a step of the host,
// and fails those named in fail ("before h0", "after h1").
type fakeHooks struct {
	f    *fakeOps
	fail map[string]bool
}

func (k *fakeHooks) run(what string, h Host, to, from string) error {
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	k.f.logf("%s %s %s (from %s, current %s)", h.Name(), what, to, orNone(from), k.f.s(h).current)
	if k.fail[what+" "+h.Name()] {
		return fmt.Errorf("%s on %s: exit status 1", what, h.Name())
	}
	return nil
}

func (k *fakeHooks) BeforeActivate(_ context.Context, h Host, _ *release.State, to, from string) error {
	return k.run("before_activate", h, to, from)
}

func (k *fakeHooks) AfterActivate(_ context.Context, h Host, _ *release.State, to, from string) error {
	return k.run("after_activate", h, to, from)
}

// before_activate runs once, on the first host, after every host's
// preflight and before any switch; after_activate on each host after its
// health check.
func TestHooksAroundTheSwitch(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	k := &fakeHooks{f: f}
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Batch: 2, Hooks: k})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if i := slices.Index(f.log, "h0 before_activate v2 (from v1, current v1)"); i != 0 {
		t.Errorf("before_activate is step %d, want the first, on h0 before any switch:\n%s", i, strings.Join(f.log, "\n"))
	}
	if n := len(slices.DeleteFunc(slices.Clone(f.log), func(l string) bool { return !strings.Contains(l, "before_activate") })); n != 1 {
		t.Errorf("before_activate ran %d times, want once", n)
	}
	if i := slices.Index(f.reads, "h2 state"); i < 0 {
		t.Errorf("h2's preflight did not run: %v", f.reads)
	}
	for _, h := range []string{"h0", "h1", "h2"} {
		check := slices.Index(f.log, h+" check v2")
		after := slices.Index(f.log, h+" after_activate v2 (from v1, current v2)")
		if check < 0 || after != check+1 {
			t.Errorf("%s: after_activate at %d, health check at %d: want it right after\n%s", h, after, check, strings.Join(f.log, "\n"))
		}
	}
}

// Regression guard: a failing before_activate (a migration) switches no
// host and leaves no lock.
func TestFailingBeforeActivateSwitchesNothing(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	k := &fakeHooks{f: f, fail: map[string]bool{"before_activate h0": true}}
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Hooks: k})
	want := "activate v2 stopped, no host was switched: before_activate on h0: exit status 1"
	if rep.Err == nil || rep.Err.Error() != want {
		t.Fatalf("err = %v, want %q", rep.Err, want)
	}
	if got := outcomes(rep); got != "h0:failed@v1 h1:not started@v1 h2:not started@v1" {
		t.Errorf("outcomes = %s", got)
	}
	if len(f.log) != 1 {
		t.Errorf("steps after the failed hook: %v", f.log)
	}
	for name, s := range f.servers {
		if s.current != "v1" || s.locked || !s.unlocked {
			t.Errorf("%s: current %s, locked %v: want v1 and the lock released", name, s.current, s.locked)
		}
	}
}

// A failing after_activate is the host's failure: it goes back, and the
// failure mode decides the others, as for a failed health check.
func TestFailingAfterActivateIsTheHostsFailure(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	k := &fakeHooks{f: f, fail: map[string]bool{"after_activate h1": true}}
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Hooks: k, OnFailure: RollbackAll})
	if got, want := outcomes(rep), "h0:rolled back@v1 h1:rolled back@v1 h2:not started@v1"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "activate v2 on h1: after the health check: after_activate on h1: exit status 1") {
		t.Errorf("err = %v, want it to name the hook and the host", rep.Err)
	}
}

// A run that finds every host on its target runs no hook: nothing is
// activated.
func TestNoHooksWhenNothingSwitches(t *testing.T) {
	f, hosts := newFleet(2, "v2", "v2")
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Hooks: &fakeHooks{f: f}})
	if rep.Err != nil || outcomes(rep) != "h0:unchanged@v2 h1:unchanged@v2" {
		t.Fatalf("rerun = %s, %v", outcomes(rep), rep.Err)
	}
	for _, l := range f.log {
		if strings.Contains(l, "_activate") {
			t.Errorf("a hook ran on a rerun: %s", l)
		}
	}
}

// RemoteHooks run in the release's app dir: the new release before the
// switch, current after it; an empty hook does not run.
func TestRemoteHooksDirs(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"releases/v2/apps/web", "current/apps/web"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	st := &release.State{Releases: []release.Release{{ID: "v2", Complete: true, Manifest: &release.Manifest{ID: "v2", AppDir: "apps/web"}}}}
	var lines []string
	r := &RemoteHooks{
		Layout: release.Layout{Root: root}, Env: "staging",
		Before: hook.Hook{Name: "before_activate", Run: `echo "$(pwd) $NEXT_DEPLOY_RELEASE $NEXT_DEPLOY_PREVIOUS $NEXT_DEPLOY_ENV $NEXT_DEPLOY_HOST"`},
		Out:    func(l string) { lines = append(lines, l) },
	}
	h := Host{Host: remote.NewLocal(), Target: inventory.Target{Local: true}}
	ctx := context.Background()
	if err := r.BeforeActivate(ctx, h, st, "v2", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := r.AfterActivate(ctx, h, st, "v2", "v1"); err != nil {
		t.Fatal(err)
	}
	r.After = hook.Hook{Name: "after_activate", Run: "pwd"}
	if err := r.AfterActivate(ctx, h, st, "v2", "v1"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"local: before_activate: running in " + root + "/releases/v2/apps/web",
		"local: before_activate: " + root + "/releases/v2/apps/web v2 v1 staging local",
		"local: after_activate: running in " + root + "/current/apps/web",
		"local: after_activate: " + root + "/current/apps/web",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("output = %q,\nwant %q", lines, want)
	}
}
