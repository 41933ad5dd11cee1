package heap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/pm2"
)

const mib = 1 << 20

// proc is a worker pm2 started at started, its samples from..to seconds
// after t0.
func proc(id, pid, restarts int, started, t0 time.Time, from, to int, heap func(s int) int64) pm2.Proc {
	m := &pm2.Memory{HeapLimit: 4 << 30}
	for s := from; s < to; s++ {
		m.Samples = append(m.Samples, pm2.Sample{Time: t0.Add(time.Duration(s) * time.Second), HeapUsed: heap(s), RSS: 3 * heap(s)})
	}
	m.Last = m.Samples[len(m.Samples)-1]
	return pm2.Proc{ID: float64(id), Name: "web", PID: pid, Status: "online", Restarts: restarts, Started: started, Memory: m}
}

// A watch merges overlapping looks at the same worker, leaves out what
// came before it, and judges each process of a worker apart: a restart
// (new pid) is counted, and a leak before it is still reported.
func TestCollector(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	grow := func(s int) int64 { return int64(20*mib + s*mib/5) } // 12 MiB a minute
	flat := func(s int) int64 { return int64(30*mib + (s%3)*mib/10) }
	c := &Collector{Since: t0.Add(10 * time.Second)}
	rel := func(pm2.Proc) string { return "v2" }
	// Every look carries the last 30 s of samples (the preload's ring).
	for look := 40; look <= 100; look += 10 {
		c.Add("h0", []pm2.Proc{proc(0, 100, 1, t0, t0, look-30, look, grow), proc(1, 101, 1, t0, t0, look-30, look, flat)}, rel)
	}
	// h1's worker restarts (max_memory_restart) at 80 s after leaking; the
	// new one is too young to judge.
	c.Add("h1", []pm2.Proc{proc(0, 200, 1, t0, t0, 0, 80, grow)}, rel)
	c.Add("h1", []pm2.Proc{proc(0, 201, 2, t0.Add(80*time.Second), t0, 80, 100, flat)}, rel)
	got := c.Trends(memtrend.DefaultRules)
	if len(got) != 3 {
		t.Fatalf("%d workers, want 3: %+v", len(got), got)
	}
	want := []struct {
		host, id string
		pid      int
		verdict  string
		restarts int
	}{{"h0", "0", 100, memtrend.Leak, 0}, {"h0", "1", 101, memtrend.Steady, 0}, {"h1", "0", 200, memtrend.Leak, 1}}
	for i, w := range want {
		g := got[i]
		if g.Host != w.host || g.ID != w.id || g.PID != w.pid || g.Trend.Verdict != w.verdict || g.Restarts != w.restarts || g.Release != "v2" {
			t.Errorf("worker %d = %s/%s pid %d %s restarts %d, want %s/%s pid %d %s restarts %d", i, g.Host, g.ID, g.PID, g.Trend, g.Restarts, w.host, w.id, w.pid, w.verdict, w.restarts)
		}
	}
	// h0's worker 0: samples 10..99 s, merged without duplicates; its
	// first 30 s are warm-up.
	if g := got[0].Trend; g.Points != 70 || g.From != grow(30) || g.To != grow(99) || g.Age != 99 {
		t.Errorf("h0/0 trend %+v, want 70 points (30 s to 99 s), age 99 s", g)
	}
}

// A worker younger than memtrend's MinAge at the end of a watch gets no
// verdict, however its heap grew: a fresh worker's warm-up looks like
// anything (issue 16 item 5: a warm-up was called a leak at 19 s).
func TestCollectorYoungWorker(t *testing.T) {
	start := t0.Add(-2 * time.Second)
	c := &Collector{Since: t0}
	steep := func(s int) int64 { return int64(20*mib + s*2*mib) }
	c.Add("h0", []pm2.Proc{proc(0, 100, 0, start, t0, 0, 20, steep)}, func(pm2.Proc) string { return "v2" })
	got := c.Trends(memtrend.DefaultRules)
	if len(got) != 1 || got[0].Trend.Verdict != memtrend.TooYoung || got[0].Trend.Leaking() || got[0].Trend.Age != 21 {
		t.Errorf("trends %+v, want one worker too young (21 s)", got)
	}
}

// watchFleet is hosts a (web#0 leaking 12 MiB a minute) and b (web#0
// flat): each look carries the last 30 s of samples, a second apart, up
// to the clock's now, as the preload's ring does.
func watchFleet(clk *clock.Fake) (fakeConn, *fakePM2, []inventory.Target) {
	a, b := tgt("10.0.0.1"), tgt("10.0.0.2")
	start := clk.Now()
	grow := func(s int) int64 { return int64(20*mib + s*mib/5) }
	flat := func(s int) int64 { return int64(30*mib + (s%3)*mib/10) }
	p := &fakePM2{procs: func(host string, _ int) []pm2.Proc {
		now := int(clk.Now().Sub(start) / time.Second)
		heap, pid := grow, 100
		if host == b.String() {
			heap, pid = flat, 200
		}
		// The switch started the workers a few seconds before the watch.
		pr := proc(0, pid, 0, start.Add(-5*time.Second), start, now-30, now+1, heap)
		pr.RealCwd = "/app/releases/v2"
		return []pm2.Proc{pr}
	}}
	conn := fakeConn{a.String(): &fakeHost{name: a.String()}, b.String(): &fakeHost{name: b.String()}}
	return conn, p, []inventory.Target{a, b}
}

// A watch looks every quarter of its time on the one clock, inspects
// each host once, and judges each worker's merged series.
func TestWatch(t *testing.T) {
	clk := clock.NewFake(t0)
	conn, p, targets := watchFleet(clk)
	var progress []string
	w := Watch(context.Background(), WatchOptions{
		Conn: conn, Targets: targets, Parallel: 2, PM2: p, For: time.Minute, Clock: clk,
		Progress: func(format string, a ...any) { progress = append(progress, fmt.Sprintf(format, a...)) },
	})
	if got, want := clk.Sleeps(), []time.Duration{15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	if w.Seconds != 60 || len(w.Errors) != 0 || len(w.Workers) != 2 {
		t.Fatalf("watch %+v, want 60 s, 2 workers, no errors", w)
	}
	for i, want := range []struct {
		host    string
		pid     int
		verdict string
	}{{"deploy@10.0.0.1:22", 100, memtrend.Leak}, {"deploy@10.0.0.2:22", 200, memtrend.Steady}} {
		g := w.Workers[i]
		if g.Host != want.host || g.PID != want.pid || g.Trend.Verdict != want.verdict || g.Release != "v2" || g.Trend.Points < memtrend.DefaultRules.MinPoints {
			t.Errorf("worker %d = %s pid %d %s release %q, %d points; want %s pid %d %s on v2", i, g.Host, g.PID, g.Trend, g.Release, g.Trend.Points, want.host, want.pid, want.verdict)
		}
	}
	for _, tg := range targets {
		if inspects, statuses := p.count(tg.String()); inspects != 1 || statuses != 5 {
			t.Errorf("%s: %d inspects, %d looks; want 1 and 5", tg, inspects, statuses)
		}
	}
	if len(progress) != 5 || progress[0] != "watching the workers' memory for 1m" || progress[4] != "watching memory: 45s of 1m" {
		t.Errorf("progress %q", progress)
	}
}

// A host that failed a look is reported unless a later inspection
// worked: an unreachable host, and one whose pm2 failed a look, are
// named; one whose first inspection failed but the next worked is not.
func TestWatchErrors(t *testing.T) {
	clk := clock.NewFake(t0)
	conn, p, targets := watchFleet(clk)
	c := tgt("10.0.0.3")
	targets = append(targets, c)
	p.inspectErrs = map[string][]error{"deploy@10.0.0.1:22": {errors.New("pm2 inspect: a is busy")}}
	p.statusErrs = map[string]map[int]error{"deploy@10.0.0.2:22": {2: errors.New("pm2 list processes: b is busy")}}
	w := Watch(context.Background(), WatchOptions{Conn: conn, Targets: targets, PM2: p, For: time.Minute, Clock: clk})
	want := []string{"pm2 list processes: b is busy", "connect to deploy@10.0.0.3:22: connection refused"}
	if !slices.Equal(w.Errors, want) {
		t.Errorf("errors %q, want %q", w.Errors, want)
	}
	if len(w.Workers) != 2 {
		t.Errorf("%d workers, want a's and b's", len(w.Workers))
	}
}

// A cancelled watch stops at once with what it saw.
func TestWatchCancelled(t *testing.T) {
	clk := clock.NewFake(t0)
	conn, p, targets := watchFleet(clk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := Watch(ctx, WatchOptions{Conn: conn, Targets: targets, PM2: p, For: time.Hour, Clock: clk})
	if len(clk.Sleeps()) != 0 || w.Seconds != 0 {
		t.Errorf("cancelled watch slept %v, watched %vs; want no sleep", clk.Sleeps(), w.Seconds)
	}
}
