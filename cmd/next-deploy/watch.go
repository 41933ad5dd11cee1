package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/heap"
	"github.com/org/next-deploy/pkg/pm2"
)

// Bounds of activate --watch: shorter gives too few samples after the
// warm-up to judge, longer belongs to a monitoring system.
const (
	minWatch = 10 * time.Second
	maxWatch = time.Hour
)

// memoryWatch is what activate --watch saw, as printed by --json.
type memoryWatch struct {
	Seconds float64            `json:"seconds"`
	Workers []heap.WorkerTrend `json:"workers"`
	// Errors are the hosts that could not be sampled, with why.
	Errors []string `json:"errors,omitempty"`
}

// watchMemory samples every worker of hosts for d after the switch. The
// preload keeps the last two minutes of samples, so a look every
// interval (at most 30 s) loses none; each worker's series is judged at
// the end.
func watchMemory(ctx context.Context, env *cli.Env, runner pm2.Runner, hosts []activate.Host, d time.Duration) *memoryWatch {
	start := time.Now()
	c := &heap.Collector{Since: start}
	sites := make([]*pm2.Site, len(hosts))
	errs := make([]error, len(hosts))
	look := func() {
		procs := make([][]pm2.Proc, len(hosts))
		var wg sync.WaitGroup
		for i, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if sites[i] == nil {
					if sites[i], errs[i] = runner.Inspect(ctx, h); errs[i] != nil {
						sites[i] = nil
						return
					}
				}
				ps, err := runner.StatusMemory(ctx, h)
				if err != nil {
					errs[i] = err
					return
				}
				procs[i] = sites[i].Workers(ps)
			}()
		}
		wg.Wait()
		for i, h := range hosts {
			if sites[i] != nil {
				c.Add(h.Name(), procs[i], sites[i].ReleaseOf)
			}
		}
	}
	interval := min(max(d/4, 2*time.Second), 30*time.Second)
	env.Progressf("watching the workers' memory for %s", d)
	for {
		look()
		left := d - time.Since(start)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		env.Progressf("watching memory: %s of %s", time.Since(start).Round(time.Second), d)
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	w := &memoryWatch{Seconds: time.Since(start).Round(time.Millisecond).Seconds(), Workers: c.Trends(heap.DefaultRules)}
	for _, err := range errs {
		if err != nil {
			w.Errors = append(w.Errors, err.Error())
		}
	}
	return w
}

// table renders the watch and warns, in the summary too, about every
// worker that leaks or restarted.
func (w *memoryWatch) table(env *cli.Env, root string) *cli.Table {
	t := &cli.Table{
		Title:  fmt.Sprintf("memory after the switch (watched %s)", (time.Duration(w.Seconds * float64(time.Second))).Round(time.Second)),
		Header: []string{"host", "worker", "pid", "release", "restarts", "rss", "heap used", "growth", "verdict"},
	}
	for _, x := range w.Workers {
		growth := "-"
		if x.Trend.Verdict != heap.TooShort {
			growth = fmt.Sprintf("%+.1f MiB/min", x.Trend.PerMinute/(1<<20))
		}
		t.Add(x.Host, x.App+"#"+x.ID, fmt.Sprint(x.PID), orDash(x.Release), fmt.Sprint(x.Restarts), mib(x.RSS), mib(x.HeapUsed), growth, x.Trend.Verdict)
		if x.Trend.Leaking() {
			env.Warnf("%s: worker %s#%s (pid %d, release %s): heap grew %+.1f MiB/min for %.0fs after the warm-up (%s -> %s), steadily: looks like a leak, not warm-up; take heap snapshots a few minutes apart: next-deploy heap-snapshot --hosts %s --path %s",
				x.Host, x.App, x.ID, x.PID, orDash(x.Release), x.Trend.PerMinute/(1<<20), x.Trend.Seconds, mib(x.Trend.From), mib(x.Trend.To), x.Host, root)
		}
		if x.Restarts > 0 {
			env.Warnf("%s: worker %s#%s (release %s) restarted %d time(s) while watched: a crash or max_memory_restart; see pm2 logs", x.Host, x.App, x.ID, orDash(x.Release), x.Restarts)
		}
	}
	for _, e := range w.Errors {
		env.Warnf("memory watch: %s", e)
	}
	return t
}
