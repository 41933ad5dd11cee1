package heap

import (
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
)

func proc(id, pid, restarts int, t0 time.Time, from, to int, heap func(s int) int64) pm2.Proc {
	m := &pm2.Memory{HeapLimit: 4 << 30}
	for s := from; s < to; s++ {
		m.Samples = append(m.Samples, pm2.Sample{Time: t0.Add(time.Duration(s) * time.Second), HeapUsed: heap(s), RSS: 3 * heap(s)})
	}
	m.Last = m.Samples[len(m.Samples)-1]
	return pm2.Proc{ID: float64(id), Name: "web", PID: pid, Status: "online", Restarts: restarts, Memory: m}
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
	for look := 40; look <= 70; look += 10 {
		c.Add("h0", []pm2.Proc{proc(0, 100, 1, t0, look-30, look, grow), proc(1, 101, 1, t0, look-30, look, flat)}, rel)
	}
	// h1's worker restarts (max_memory_restart) at 50 s after leaking.
	c.Add("h1", []pm2.Proc{proc(0, 200, 1, t0, 0, 50, grow)}, rel)
	c.Add("h1", []pm2.Proc{proc(0, 201, 2, t0, 50, 70, flat)}, rel)
	got := c.Trends(DefaultRules)
	if len(got) != 3 {
		t.Fatalf("%d workers, want 3: %+v", len(got), got)
	}
	want := []struct {
		host, id string
		pid      int
		verdict  string
		restarts int
	}{{"h0", "0", 100, Leak, 0}, {"h0", "1", 101, Steady, 0}, {"h1", "0", 200, Leak, 1}}
	for i, w := range want {
		g := got[i]
		if g.Host != w.host || g.ID != w.id || g.PID != w.pid || g.Trend.Verdict != w.verdict || g.Restarts != w.restarts || g.Release != "v2" {
			t.Errorf("worker %d = %s/%s pid %d %s restarts %d, want %s/%s pid %d %s restarts %d", i, g.Host, g.ID, g.PID, g.Trend, g.Restarts, w.host, w.id, w.pid, w.verdict, w.restarts)
		}
	}
	// h0's worker 0: samples 10..69 s, merged without duplicates.
	if g := got[0].Trend; g.Points != 45 || g.From != grow(25) || g.To != grow(69) {
		t.Errorf("h0/0 trend %+v, want 45 points (25 s to 69 s)", g)
	}
}
