package activate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
)

// canaryOps are the fake hosts with counts: each look at a host adds 10
// answers; a host whose workers run a release in fails adds 3 answers
// 5xx per look; a host in restarts that runs v2 restarts a worker per
// look.
type canaryOps struct {
	*fakeOps
	fails, restarts map[string]bool
	mu              sync.Mutex
	looks           map[string]int
	totals          map[string]*[2]int64 // answers, 5xx
	// onLook, when set, runs at each look (to cancel mid-window).
	onLook func(host string, n int)
}

func newCanaryFleet(n int) (*canaryOps, []Host) {
	f, hosts := newFleet(n, "v1", "v1", "v2")
	return &canaryOps{fakeOps: f, fails: map[string]bool{}, restarts: map[string]bool{}, looks: map[string]int{}, totals: map[string]*[2]int64{}}, hosts
}

var _ Watcher[string] = (*canaryOps)(nil)

func (c *canaryOps) Tally(_ context.Context, h Host, app string) (Tally, error) {
	c.fakeOps.mu.Lock()
	running := c.s(h).running
	c.fakeOps.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	name := h.Name()
	c.looks[name]++
	if c.totals[name] == nil {
		c.totals[name] = &[2]int64{}
	}
	tot := c.totals[name]
	tot[0] += 10
	if c.fails[running] {
		tot[0] += 3
		tot[1] += 3
	}
	restarts := 1 // the reload's
	if c.restarts[name] && running == "v2" {
		restarts += c.looks[name] - 1
	}
	if c.onLook != nil {
		c.onLook(name, c.looks[name])
	}
	return Tally{Counted: true, Answers: map[int]int64{100: tot[0]}, ServerErrors: map[int]int64{100: tot[1]}, Restarts: map[string]int{"0": restarts}}, nil
}

func TestCanaryPassesThenTheRestGoesByBatch(t *testing.T) {
	c, hosts := newCanaryFleet(5)
	clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	var lines []string
	var mu sync.Mutex
	progress := func(host, format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if l := host + ": " + fmt.Sprintf(format, a...); strings.Contains(l, "canary") {
			lines = append(lines, l)
		}
	}
	rep := Run(context.Background(), c, hosts, activateTo("v2"), Options{Batch: 2, Clock: clk, Progress: progress, Canary: Canary{Hosts: 1, Time: 10 * time.Second}})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if want := []string{
		"h0: canary: watching v2 for 10s (health, restarts, 5xx answers)",
		"h0: canary: 0 of 100 answers 5xx, 0 restarts, healthy (10s of 10s)",
	}; strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if got, want := outcomes(rep), "h0:switched@v2 h1:switched@v2 h2:switched@v2 h3:switched@v2 h4:switched@v2"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
	first, last := firstLast(c.log)
	for _, h := range []string{"h1", "h2", "h3", "h4"} {
		if last["h0"] > first[h] {
			t.Errorf("the canary h0 was still being worked on when %s started:\n%s", h, strings.Join(c.log, "\n"))
		}
	}
	// Looks at 0s, 1s, ... 10s: 10 sleeps of a second, 11 looks, each
	// with the health gate.
	if got := clk.Sleeps(); len(got) != 10 || got[0] != time.Second {
		t.Errorf("sleeps %v, want 10 of 1s", got)
	}
	if c.looks["h0"] != 11 || c.looks["h1"] != 0 {
		t.Errorf("looks %v, want 11 at the canary h0 only", c.looks)
	}
	if n := strings.Count(strings.Join(c.log, "\n"), "h0 check v2"); n != 12 {
		t.Errorf("h0 health checks %d, want 12 (the gate, then one per look)", n)
	}
}

// The must-show of issue 15: a release that answers 500 on a route (its
// health URL is fine) is stopped at the canary, the canary goes back, and
// no other host is touched.
func TestBadCanaryGoesBackAndNoOtherHostIsTouched(t *testing.T) {
	c, hosts := newCanaryFleet(4)
	c.fails["v2"] = true
	clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	rep := Run(context.Background(), c, hosts, activateTo("v2"), Options{Batch: 2, Clock: clk, Canary: Canary{Hosts: 1, Time: time.Minute}})
	if rep.Err == nil {
		t.Fatal("a canary answering 5xx passed")
	}
	t.Log(rep.Err)
	if got, want := outcomes(rep), "h0:rolled back@v1 h1:not started@v1 h2:not started@v1 h3:not started@v1"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
	for _, w := range []string{"bad canary h0: the other 3 hosts were not touched", "activate v2 on h0: canary: 3 of 13 answers 5xx, 0 restarts"} {
		if !strings.Contains(rep.Err.Error(), w) {
			t.Errorf("error %q does not say %q", rep.Err, w)
		}
	}
	for _, l := range c.log {
		if !strings.HasPrefix(l, "h0 ") {
			t.Errorf("another host was touched: %q", l)
		}
	}
	// Stopped at the first look that saw 5xx, not after the whole minute.
	if got := clk.Sleeps(); len(got) != 1 {
		t.Errorf("sleeps %v, want the one before the second look", got)
	}
	if got := c.servers["h0"].current; got != "v1" {
		t.Errorf("h0 current %s, want v1", got)
	}
}

func TestBadCanaryByMode(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want string
	}{
		// Both canaries go back: h1 failed, h0 with it.
		{RollbackAll, "h0:rolled back@v1 h1:rolled back@v1 h2:not started@v1"},
		// Only the bad canary goes back.
		{RollbackHost, "h0:switched@v2 h1:rolled back@v1 h2:not started@v1"},
		// Nothing goes back: the bad canary is left for inspection.
		{Stop, "h0:switched@v2 h1:failed@v2 h2:not started@v1"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			c, hosts := newCanaryFleet(3)
			c.restarts["h1"] = true // h0's workers are fine
			rep := Run(context.Background(), c, hosts, activateTo("v2"), Options{OnFailure: tc.mode, Clock: clock.NewFake(time.Now()), Canary: Canary{Hosts: 2, Time: time.Minute}})
			if rep.Err == nil || !strings.Contains(rep.Err.Error(), "bad canary h1: the other 1 hosts were not touched") || !strings.Contains(rep.Err.Error(), "1 restarts") {
				t.Fatalf("err = %v, want a bad canary h1 that restarted", rep.Err)
			}
			if got := outcomes(rep); got != tc.want {
				t.Errorf("outcomes = %s, want %s", got, tc.want)
			}
		})
	}
}

// A canary as large as the fleet (or larger) is the whole rollout,
// watched.
func TestCanaryOfTheWholeFleet(t *testing.T) {
	c, hosts := newCanaryFleet(2)
	rep := Run(context.Background(), c, hosts, activateTo("v2"), Options{Clock: clock.NewFake(time.Now()), Canary: Canary{Hosts: 5, Time: 3 * time.Second}})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if c.looks["h0"] != 4 || c.looks["h1"] != 4 {
		t.Errorf("looks %v, want 4 at each host", c.looks)
	}
}

// A canary already on the release has nothing new to watch: no window.
func TestCanaryAlreadyCurrentIsNotWatched(t *testing.T) {
	c, hosts := newCanaryFleet(3)
	c.servers["h0"].current, c.servers["h0"].running = "v2", "v2"
	clk := clock.NewFake(time.Now())
	rep := Run(context.Background(), c, hosts, activateTo("v2"), Options{Clock: clk, Canary: Canary{Hosts: 1, Time: time.Minute}})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if len(clk.Sleeps()) != 0 || len(c.looks) != 0 {
		t.Errorf("sleeps %v, looks %v: want no window for a canary already on v2", clk.Sleeps(), c.looks)
	}
	if got, want := outcomes(rep), "h0:unchanged@v2 h1:switched@v2 h2:switched@v2"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
}

// Ops that cannot count answers cannot run a canary: refused before any
// switch.
func TestCanaryNeedsAWatcher(t *testing.T) {
	f, hosts := newFleet(2, "v1", "v1", "v2")
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{Canary: Canary{Hosts: 1, Time: time.Second}})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "activate.Watcher") {
		t.Fatalf("err = %v", rep.Err)
	}
	if len(f.log) != 0 {
		t.Errorf("steps were run: %v", f.log)
	}
}

// Interrupted while watching: the canary stays where it is, the others
// are not touched, and the error says so.
func TestCanaryInterrupted(t *testing.T) {
	c, hosts := newCanaryFleet(3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.onLook = func(host string, n int) {
		if n == 3 {
			cancel()
		}
	}
	rep := Run(ctx, c, hosts, activateTo("v2"), Options{Clock: clock.NewFake(time.Now()), Canary: Canary{Hosts: 1, Time: time.Minute}})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "the other hosts were not touched") {
		t.Fatalf("err = %v, want an interruption that says the others were not touched", rep.Err)
	}
	if got, want := outcomes(rep), "h0:switched@v2 h1:not started@v1 h2:not started@v1"; got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
	}
}

func TestSince(t *testing.T) {
	base := Tally{Counted: true, Answers: map[int]int64{1: 100, 2: 50}, ServerErrors: map[int]int64{1: 2}, Restarts: map[string]int{"0": 1, "1": 1}}
	now := Tally{Counted: true,
		// worker 2 restarted as 3: its counts start from 0.
		Answers:      map[int]int64{1: 130, 3: 5},
		ServerErrors: map[int]int64{1: 2, 3: 1},
		Restarts:     map[string]int{"0": 1, "1": 2, "2": 0},
	}
	got := since(base, now)
	if want := (seen{answers: 35, errors5xx: 1, restarts: 1, counted: true}); got != want {
		t.Errorf("since = %+v, want %+v", got, want)
	}
	if !got.bad() || (seen{answers: 9, counted: true}).bad() {
		t.Error("bad")
	}
	if s := (seen{restarts: 0}).String(); !strings.Contains(s, "count no answers") {
		t.Errorf("uncounted: %q", s)
	}
}
