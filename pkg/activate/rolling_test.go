package activate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/release"
)

func activateTo(id string) Choose { return func(*release.State) (string, error) { return id, nil } }

func outcomes(rep *Report) string {
	var s []string
	for _, h := range rep.Hosts {
		s = append(s, h.Host+":"+string(h.Outcome)+"@"+h.Current)
	}
	return strings.Join(s, " ")
}

// firstLast gives the log positions of each host's first and last step.
func firstLast(log []string) (first, last map[string]int) {
	first, last = map[string]int{}, map[string]int{}
	for i, l := range log {
		h := strings.Fields(l)[0]
		if _, ok := first[h]; !ok {
			first[h] = i
		}
		last[h] = i
	}
	return first, last
}

func TestActivateInBatchesWithPauses(t *testing.T) {
	f, hosts := newFleet(5, "v1", "v1", "v2")
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clock.NewFake(start)
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Batch: 2, Pause: 3 * time.Second, Clock: clk, Who: "ci@runner", Run: "https://ci/run/7"})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got, want := outcomes(rep), "h0:switched@v2 h1:switched@v2 h2:switched@v2 h3:switched@v2 h4:switched@v2"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
	// Batches of 2: every step of a batch before any of the next.
	first, last := firstLast(f.log)
	for _, pair := range [][2]string{{"h0", "h2"}, {"h1", "h2"}, {"h0", "h3"}, {"h1", "h3"}, {"h2", "h4"}, {"h3", "h4"}} {
		if last[pair[0]] > first[pair[1]] {
			t.Errorf("%s (batch before) still working when %s started:\n%s", pair[0], pair[1], strings.Join(f.log, "\n"))
		}
	}
	if got := clk.Sleeps(); len(got) != 2 || got[0] != 3*time.Second || got[1] != 3*time.Second {
		t.Errorf("pauses = %v, want two of 3s (between three batches)", got)
	}
	// Batch n is recorded after n pauses: the history is timed by Options.Clock.
	batchOf := map[string]int{"h0": 0, "h1": 0, "h2": 1, "h3": 1, "h4": 2}
	for name, s := range f.servers {
		last := s.history[len(s.history)-1]
		want := release.Entry{Time: start.Add(time.Duration(batchOf[name]) * 3 * time.Second), Action: ActionActivate, Release: "v2", From: "v1", Who: "ci@runner", Run: "https://ci/run/7"}
		if last != want {
			t.Errorf("%s history entry = %+v, want %+v", name, last, want)
		}
		if s.locked || !s.unlocked {
			t.Errorf("%s: lock not released", name)
		}
	}
}

func TestRefusedWhenAHostLacksTheRelease(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	delete(f.servers["h1"].has, "v2")
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "h1 does not hold release v2") || !strings.Contains(rep.Err.Error(), "no host was changed") {
		t.Fatalf("err = %v, want a refusal naming h1", rep.Err)
	}
	if len(f.log) != 0 {
		t.Errorf("steps were run after a refused preflight: %v", f.log)
	}
	if rep.Hosts[1].Outcome != Refused || rep.Hosts[0].Outcome != NotStarted {
		t.Errorf("outcomes = %s", outcomes(rep))
	}
	for name, s := range f.servers {
		if s.locked {
			t.Errorf("%s still locked after a refusal", name)
		}
	}
}

func TestRefusedWhenAHostIsLocked(t *testing.T) {
	f, hosts := newFleet(2, "v1", "v1", "v2")
	f.servers["h1"].lockErr = &release.LockedError{Host: "h1", Root: "/app", Holder: release.Holder{Who: "bob"}}
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	var le *release.LockedError
	if !errors.As(rep.Err, &le) || len(f.log) != 0 {
		t.Fatalf("err = %v, log %v; want a LockedError and nothing done", rep.Err, f.log)
	}
	if f.servers["h0"].locked {
		t.Error("h0's lock kept after the refusal")
	}
}

func TestOnFailureModes(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want string
	}{
		{RollbackAll, "h0:rolled back@v1 h1:rolled back@v1 h2:rolled back@v1 h3:not started@v1"},
		{RollbackHost, "h0:switched@v2 h1:switched@v2 h2:rolled back@v1 h3:not started@v1"},
		{Stop, "h0:switched@v2 h1:switched@v2 h2:failed@v2 h3:not started@v1"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			f, hosts := newFleet(4, "v1", "v0", "v1", "v2")
			for _, s := range f.servers {
				s.history = []release.Entry{{Release: "v0"}, {Release: "v1", From: "v0"}}
			}
			f.servers["h2"].bad["v2"] = true
			rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{OnFailure: tc.mode})
			if got := outcomes(rep); got != tc.want {
				t.Errorf("outcomes = %s\nwant       %s", got, tc.want)
			}
			if rep.Err == nil || !strings.Contains(rep.Err.Error(), "activate v2 on h2: health check") {
				t.Errorf("err = %v, want the health failure of h2", rep.Err)
			}
			if c := f.servers["h3"].current; c != "v1" {
				t.Errorf("h3 was touched after the failure: current %s", c)
			}
			// What went back says so in the history, marking the failed v2,
			// and keeps its previous release (v0): the failed v2 is never a
			// release to roll back to.
			for _, h := range rep.Hosts {
				s := f.servers[h.Host]
				e := s.history[len(s.history)-1]
				if h.Outcome == RolledBack && (e.Action != ActionRollback || e.Release != "v1" || e.From != "v2") {
					t.Errorf("%s went back but its last history entry is %+v, want rollback from v2 to v1", h.Host, e)
				}
				if st, _ := f.State(context.Background(), Host{Host: fakeRemote{h.Host}}); h.Outcome == RolledBack && st.Previous != "v0" {
					t.Errorf("%s: previous after going back = %s, want v0", h.Host, st.Previous)
				}
				if s.current != h.Current {
					t.Errorf("%s: report says current %s, host has %s", h.Host, h.Current, s.current)
				}
			}
		})
	}
}

func TestCrashingReleaseGoesBackAndStops(t *testing.T) {
	f, hosts := newFleet(2, "v1", "v1", "v2")
	f.servers["h0"].crash["v2"] = true
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	if got, want := outcomes(rep), "h0:rolled back@v1 h1:not started@v1"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
	if s := f.servers["h0"]; s.running != "v1" {
		t.Errorf("h0 workers run %s after going back, want v1", s.running)
	}
	if !strings.Contains(rep.Err.Error(), "reload pm2") {
		t.Errorf("err = %v, want the reload failure", rep.Err)
	}
}

func TestAlreadyCurrentAndHealthyIsUnchanged(t *testing.T) {
	f, hosts := newFleet(2, "v2", "v1", "v2")
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	if rep.Err != nil || outcomes(rep) != "h0:unchanged@v2 h1:unchanged@v2" {
		t.Fatalf("%s: %v", outcomes(rep), rep.Err)
	}
	for name, s := range f.servers {
		if len(s.history) != 1 {
			t.Errorf("%s: history written for an unchanged host: %+v", name, s.history)
		}
	}
}

func TestFirstActivationFailingHasNowhereToGo(t *testing.T) {
	f, hosts := newFleet(1, "", "v1")
	f.servers["h0"].bad["v1"] = true
	rep := Run(context.Background(), f, hosts, activateTo("v1"), Options{})
	if rep.Hosts[0].Outcome != Failed || !strings.Contains(rep.Err.Error(), "no previous release") {
		t.Fatalf("%s: %v", outcomes(rep), rep.Err)
	}
}

func TestRollbackToPreviousPerHost(t *testing.T) {
	f, hosts := newFleet(2, "v1", "v1", "v2", "v3")
	// h0 came to v3 from v2, h1 from v1.
	f.servers["h0"].current, f.servers["h0"].running = "v3", "v3"
	f.servers["h0"].history = append(f.servers["h0"].history, release.Entry{Action: ActionActivate, Release: "v3", From: "v2"})
	f.servers["h1"].current, f.servers["h1"].running = "v3", "v3"
	f.servers["h1"].history = append(f.servers["h1"].history, release.Entry{Action: ActionActivate, Release: "v3", From: "v1"})
	choose := func(st *release.State) (string, error) { return st.Previous, nil }
	rep := Run(context.Background(), f, hosts, choose, Options{Action: ActionRollback})
	if rep.Err != nil || outcomes(rep) != "h0:switched@v2 h1:switched@v1" {
		t.Fatalf("%s: %v", outcomes(rep), rep.Err)
	}
	e := f.servers["h0"].history[len(f.servers["h0"].history)-1]
	if e.Action != ActionRollback || e.Release != "v2" || e.From != "v3" {
		t.Errorf("history entry %+v, want rollback to v2 from v3", e)
	}
}

// Regression (issue 13): a second rollback went forward again to the
// release the first one left. r1 -> r2 -> r3, rollback -> r2, rollback ->
// r1, and a third finds nothing older: never back to r3.
func TestRollbackGoesBackwards(t *testing.T) {
	f, hosts := newFleet(2, "r1", "r1", "r2", "r3")
	for _, id := range []string{"r2", "r3"} {
		if rep := Run(context.Background(), f, hosts, activateTo(id), Options{}); rep.Err != nil {
			t.Fatalf("activate %s: %v", id, rep.Err)
		}
	}
	previous := func(st *release.State) (string, error) {
		if st.Previous == "" {
			return "", errors.New("no previous release")
		}
		return st.Previous, nil
	}
	for _, want := range []string{"h0:switched@r2 h1:switched@r2", "h0:switched@r1 h1:switched@r1"} {
		rep := Run(context.Background(), f, hosts, previous, Options{Action: ActionRollback})
		if got := outcomes(rep); rep.Err != nil || got != want {
			t.Fatalf("rollback: %s (%v), want %s", got, rep.Err, want)
		}
	}
	rep := Run(context.Background(), f, hosts, previous, Options{Action: ActionRollback})
	if rep.Err == nil || f.servers["h0"].current != "r1" || f.servers["h1"].current != "r1" {
		t.Fatalf("third rollback: %s (%v); want refused, both hosts still on r1", outcomes(rep), rep.Err)
	}
}

// Regression guard: a run cancelled mid-rollout (SIGTERM) leaves no lock
// behind and does not start switching hosts back on a dead context.
func TestCancelledRolloutReleasesEveryLock(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	ctx, cancel := context.WithCancel(context.Background())
	f.block = func(host string) {
		if host == "h1" {
			cancel()
		}
	}
	rep := Run(ctx, f, hosts, activateTo("v2"), Options{})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "interrupted") {
		t.Errorf("err = %v, want interrupted", rep.Err)
	}
	for name, s := range f.servers {
		if s.locked || !s.unlocked {
			t.Errorf("%s: lock left behind", name)
		}
	}
	if got := outcomes(rep); got != "h0:switched@v2 h1:failed@v2 h2:not started@v1" {
		t.Errorf("outcomes = %s", got)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"rollback-all", "rollback-host", "stop"} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("ParseMode(%q): %v", s, err)
		}
	}
	if _, err := ParseMode("pray"); err == nil {
		t.Error("ParseMode(pray) accepted")
	}
}

// Regression guard: fleet.Each does not start a host once the run is
// cancelled; such a host must count as failed, or a cancelled rollout
// between two batches would report success.
func TestCancelledBetweenBatchesIsNotSuccess(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := func(host, format string, a ...any) {
		if host == "h0" && format == "health check" {
			cancel() // h0 passes its (fake) gate; h1 and h2 must not pass
		}
	}
	rep := Run(ctx, f, hosts, activateTo("v2"), Options{Progress: progress})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "interrupted") {
		t.Fatalf("err = %v, want interrupted (%s)", rep.Err, outcomes(rep))
	}
	if h := rep.Hosts[0]; h.Outcome != Switched {
		t.Errorf("h0 = %s, want switched before the cancel", h.Outcome)
	}
	if h := rep.Hosts[2]; h.Outcome != NotStarted || f.servers["h2"].current != "v1" {
		t.Errorf("h2 = %s on %s, want not started on v1", h.Outcome, f.servers["h2"].current)
	}
	for name, s := range f.servers {
		if s.locked {
			t.Errorf("%s: lock left behind", name)
		}
	}
}

// Regression (issue 13 item 7): the preflight read a host's state (current,
// the history a rollback picks its target from) before taking its lock,
// so a deploy finishing meanwhile made the rollout act on a stale picture.
// Every host's lock comes first, then its state, for activate and rollback.
func TestLockBeforeState(t *testing.T) {
	for _, action := range []string{ActionActivate, ActionRollback} {
		f, hosts := newFleet(3, "v2", "v1", "v2")
		for _, s := range f.servers {
			s.history = []release.Entry{{Action: ActionActivate, Release: "v1"}, {Action: ActionActivate, Release: "v2", From: "v1"}}
		}
		choose := activateTo("v2")
		if action == ActionRollback {
			choose = func(st *release.State) (string, error) { return st.Previous, nil }
		}
		rep := Run(context.Background(), f, hosts, choose, Options{Action: action, Parallel: 3})
		if rep.Err != nil {
			t.Fatalf("%s: %v", action, rep.Err)
		}
		for _, h := range hosts {
			var got []string
			for _, r := range f.reads {
				if strings.HasPrefix(r, h.Name()+" ") {
					got = append(got, r)
				}
			}
			if want := h.Name() + " lock," + h.Name() + " state"; strings.Join(got, ",") != want {
				t.Errorf("%s: %s reads = %v, want %s", action, h.Name(), got, want)
			}
		}
	}
}

// Regression (fault suite, TestFaultTwoDeploysRace): preflight took every
// host's lock at once, so two runs started together each won some hosts
// and both were refused. The first host's lock is taken alone first; when
// another run holds it, no other host's lock is even tried.
func TestFirstHostLockGatesTheOthers(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	f.servers["h0"].lockErr = &release.LockedError{Host: "h0", Root: "/app", Holder: release.Holder{Who: "other@ci"}}
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "locked by another run") {
		t.Fatalf("err = %v, want refused naming the lock", rep.Err)
	}
	for _, r := range f.reads {
		if r != "h0 lock" {
			t.Errorf("%q happened though h0 was locked by another run", r)
		}
	}
	// Unlocked: h0's lock comes before any other host's; the rest of
	// h0's preflight runs with the other hosts' (its state still under
	// its lock: TestLockBeforeState).
	f, hosts = newFleet(3, "v1", "v1", "v2")
	if rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Parallel: 3}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if len(f.reads) < 1 || f.reads[0] != "h0 lock" {
		t.Errorf("reads = %q, want h0's lock first", f.reads)
	}
}

// The first host's preflight, apart from its lock, does not hold up the
// others': issue 15 item 3 (activation overhead). h0's state is read
// while h1 is already locked.
func TestFirstHostPreflightRunsWithTheOthers(t *testing.T) {
	f, hosts := newFleet(2, "v1", "v1", "v2")
	h1Locked := make(chan struct{})
	f.onRead = func(r string) {
		switch r {
		case "h1 lock":
			close(h1Locked)
		case "h0 state":
			select {
			case <-h1Locked:
			case <-time.After(10 * time.Second):
				t.Error("h0's state was read before h1's lock was taken: the first host's preflight ran alone")
			}
		}
	}
	if rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Parallel: 2}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
}
