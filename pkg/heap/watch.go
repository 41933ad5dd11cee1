package heap

import (
	"context"
	"sort"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/pm2"
)

// Collector gathers the samples of pm2 workers during a watch. A
// worker is a host and a pm2 id; a restart gives it a new pid, and each
// pid's samples are judged apart (a restart frees the heap).
type Collector struct {
	// Since is the start of the watch: older samples are left out.
	Since   time.Time
	workers map[[2]string]*series
	order   [][2]string
}

type series struct {
	host, app, id, release, status string
	firstRestarts, restarts        int
	pids                           []int
	samples                        map[int]map[time.Time]pm2.Sample
	started                        map[int]time.Time // pm2's start of each pid
	last                           pm2.Sample
	heapLimit                      int64
}

// Add records one look at a host's workers; releaseOf names the release
// a worker runs.
func (c *Collector) Add(host string, procs []pm2.Proc, releaseOf func(pm2.Proc) string) {
	if c.workers == nil {
		c.workers = map[[2]string]*series{}
	}
	for _, p := range procs {
		k := [2]string{host, p.Key()}
		s := c.workers[k]
		if s == nil {
			s = &series{host: host, app: p.Name, id: p.Key(), firstRestarts: p.Restarts,
				samples: map[int]map[time.Time]pm2.Sample{}, started: map[int]time.Time{}}
			c.workers[k] = s
			c.order = append(c.order, k)
		}
		s.release, s.status, s.restarts = releaseOf(p), p.Status, p.Restarts
		if p.PID == 0 {
			continue
		}
		if len(s.pids) == 0 || s.pids[len(s.pids)-1] != p.PID {
			s.pids = append(s.pids, p.PID)
		}
		if s.samples[p.PID] == nil {
			s.samples[p.PID] = map[time.Time]pm2.Sample{}
		}
		if !p.Started.IsZero() {
			s.started[p.PID] = p.Started
		}
		if p.Memory == nil {
			continue
		}
		s.heapLimit = p.Memory.HeapLimit
		for _, m := range p.Memory.Samples {
			if !m.Time.Before(c.Since) {
				s.samples[p.PID][m.Time] = m
			}
		}
		s.last = p.Memory.Last
	}
}

// WorkerTrend is what one worker's heap did during a watch.
type WorkerTrend struct {
	Host    string `json:"host"`
	App     string `json:"app"`
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	Release string `json:"release"`
	Status  string `json:"status"`
	// Restarts counts the restarts during the watch (pm2's counter, or
	// new pids).
	Restarts  int   `json:"restarts"`
	RSS       int64 `json:"rss"`
	HeapUsed  int64 `json:"heap_used"`
	HeapLimit int64 `json:"heap_limit"`
	// memtrend.Trend is the leaking part of the watch if any, else the newest
	// process's.
	Trend memtrend.Trend `json:"trend"`
}

// Trends judges every worker seen, in the order first seen.
func (c *Collector) Trends(r memtrend.Rules) []WorkerTrend {
	out := make([]WorkerTrend, 0, len(c.order))
	for _, k := range c.order {
		s := c.workers[k]
		w := WorkerTrend{
			Host: s.host, App: s.app, ID: s.id, Release: s.release, Status: s.status,
			Restarts: max(s.restarts-s.firstRestarts, len(s.pids)-1),
			RSS:      s.last.RSS, HeapUsed: s.last.HeapUsed, HeapLimit: s.heapLimit,
			Trend: memtrend.Trend{Verdict: memtrend.TooShort},
		}
		for i, pid := range s.pids {
			t := memtrend.Analyze(sorted(s.samples[pid]), s.started[pid], r)
			if i == len(s.pids)-1 || t.Leaking() {
				w.Trend, w.PID = t, pid
			}
			if t.Leaking() {
				break
			}
		}
		out = append(out, w)
	}
	return out
}

func sorted(m map[time.Time]pm2.Sample) []memtrend.Point {
	ps := make([]memtrend.Point, 0, len(m))
	for t, s := range m {
		ps = append(ps, memtrend.Point{Time: t, Heap: s.HeapUsed})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Time.Before(ps[j].Time) })
	return ps
}

// Bounds of a watch: longer belongs to a monitoring system; shorter than
// memtrend.DefaultRules.MinAge judges none of the workers a switch
// starts (each is "too young to judge" until then), so a watch is at
// least that long.
var (
	MinWatch = memtrend.DefaultRules.MinAge
	MaxWatch = time.Hour
)

// WatchOptions say which hosts' workers Watch samples, and for how long.
type WatchOptions struct {
	Conn     Connector
	Targets  []inventory.Target
	Parallel int
	PM2      PM2
	// For is how long to watch.
	For time.Duration
	// memtrend.Rules judge each worker's series; zero: memtrend.DefaultRules.
	Rules memtrend.Rules
	Clock clock.Clock
	// Progress is told how far the watch is.
	Progress func(format string, a ...any)
}

// Watched is what a watch saw.
type Watched struct {
	Seconds float64       `json:"seconds"`
	Workers []WorkerTrend `json:"workers"`
	// Errors are the hosts that could not be sampled, with why.
	Errors []string `json:"errors,omitempty"`
}

// Watch samples every worker of the hosts for o.For (after a switch).
// The preload keeps the last two minutes of samples, so a look every
// interval (at most 30 s) loses none; each worker's series is judged at
// the end.
func Watch(ctx context.Context, o WatchOptions) *Watched {
	clk := clock.Or(o.Clock)
	rules := o.Rules
	if rules == (memtrend.Rules{}) {
		rules = memtrend.DefaultRules
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	start := clk.Now()
	w := &watcher{o: o, c: &Collector{Since: start}, sites: make([]*pm2.Site, len(o.Targets)), errs: make([]error, len(o.Targets))}
	interval := min(max(o.For/4, 2*time.Second), 30*time.Second)
	progress("watching the workers' memory for %s", clock.Format(o.For))
	for {
		w.look(ctx)
		left := o.For - clk.Now().Sub(start)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		progress("watching memory: %s of %s", clock.Format(clk.Now().Sub(start).Round(time.Second)), clock.Format(o.For))
		if clk.Sleep(ctx, min(interval, left)) != nil {
			break
		}
	}
	out := &Watched{Seconds: clk.Now().Sub(start).Round(time.Millisecond).Seconds(), Workers: w.c.Trends(rules)}
	for _, err := range w.errs {
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
		}
	}
	return out
}

// watcher is a watch's state, touched only between two looks.
type watcher struct {
	o     WatchOptions
	c     *Collector
	sites []*pm2.Site // per target, once inspected
	errs  []error     // per target, the last failure
}

// sample is one look at a host.
type sample struct {
	host  string
	site  *pm2.Site
	procs []pm2.Proc
}

// look samples every host once, through the one fan-out, and records
// what came back.
func (w *watcher) look(ctx context.Context) {
	rs := fleet.Each(ctx, w.o.Targets, w.o.Parallel, func(ctx context.Context, i int, t inventory.Target) (sample, error) {
		var s sample
		h, err := w.o.Conn.Get(ctx, t)
		if err != nil {
			return s, err
		}
		s.host, s.site = h.Name(), w.sites[i]
		if s.site == nil {
			if s.site, err = w.o.PM2.Inspect(ctx, h); err != nil {
				return sample{}, err
			}
		}
		ps, err := w.o.PM2.StatusMemory(ctx, h)
		if err != nil {
			return s, err
		}
		s.procs = s.site.Workers(ps)
		return s, nil
	})
	for i, r := range rs {
		if w.sites[i] == nil {
			// A host inspected again: an older failure is past.
			w.errs[i] = nil
		}
		if r.Value.site != nil {
			w.sites[i] = r.Value.site
		}
		if r.Err != nil {
			w.errs[i] = r.Err
			continue
		}
		w.c.Add(r.Value.host, r.Value.procs, w.sites[i].ReleaseOf)
	}
}
