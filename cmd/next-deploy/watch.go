package main

import (
	"context"
	"fmt"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/heap"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/pm2"
)

// Bounds of activate --watch.
var (
	minWatch = heap.MinWatch
	maxWatch = heap.MaxWatch
)

// memoryWatch is what activate --watch saw, as printed by --json.
type memoryWatch struct {
	*heap.Watched
}

// watchMemory samples every worker of f's hosts for d after the switch
// (heap.Watch).
func watchMemory(ctx context.Context, env *cli.Env, runner pm2.Runner, f *fleetConn, d time.Duration) *memoryWatch {
	return &memoryWatch{heap.Watch(ctx, heap.WatchOptions{
		Conn: f.pool, Targets: f.targets, Parallel: f.parallel, PM2: runner, For: d,
		Progress: env.Progressf,
	})}
}

// table renders the watch and warns, in the summary too, about every
// worker that leaks or restarted.
func (w *memoryWatch) table(env *cli.Env, root string) *cli.Table {
	t := &cli.Table{
		Title:  fmt.Sprintf("memory after the switch (watched %s)", clock.Format(time.Duration(w.Seconds*float64(time.Second)).Round(time.Second))),
		Header: []string{"host", "worker", "pid", "release", "restarts", "rss", "heap used", "growth", "verdict"},
	}
	for _, x := range w.Workers {
		growth, verdict := "-", x.Trend.Verdict
		switch x.Trend.Verdict {
		case memtrend.TooYoung:
			verdict = x.Trend.String()
		case memtrend.TooShort:
		default:
			growth = fmt.Sprintf("%+.1f MiB/min", x.Trend.PerMinute/(1<<20))
		}
		t.Add(x.Host, x.App+"#"+x.ID, fmt.Sprint(x.PID), orDash(x.Release), fmt.Sprint(x.Restarts), mib(x.RSS), mib(x.HeapUsed), growth, verdict)
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
