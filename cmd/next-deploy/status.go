package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/status"
)

type statusCmd struct {
	conn      connFlags
	ecosystem string
	history   int
	front     string
}

func (*statusCmd) Name() string { return "status" }
func (*statusCmd) Synopsis() string {
	return "what every host serves: each worker's release, pm2 status, uptime, restarts, memory and heap trend, and the last activations"
}

func (c *statusCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.ecosystem, "ecosystem", pm2.DefaultEcosystem, "pm2 ecosystem file on the host, relative to --path: its apps are the workers shown")
	fs.IntVar(&c.history, "history", 3, "activations shown per host, newest first")
	fs.StringVar(&c.front, "front", nginx.DefaultFront, "where browsers reach a host (its nginx), as seen from the host; {host} stands for its address: a static file of the previous release is fetched there, to show whether old pages still get their chunks; \"\" skips it")
	cli.JSONFlag(fs)
}

func (c *statusCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if err := pm2.CheckEcosystemPath(c.ecosystem); err != nil {
		errs = append(errs, fmt.Errorf("--ecosystem: %w", err))
	}
	if _, err := health.Expand(c.front, "127.0.0.1"); c.front != "" && err != nil {
		errs = append(errs, fmt.Errorf("--front: %w", err))
	}
	if c.history < 0 {
		errs = append(errs, fmt.Errorf("--history %d: want 0 or more", c.history))
	}
	f, err := c.conn.open(env)
	if err != nil || len(errs) > 0 {
		return cli.Usage(errors.Join(append(errs, err)...))
	}
	defer f.close()
	out, runErr := status.Run(ctx, f.pool, f.targets, f.layout, status.Options{
		PM2:      pm2.Runner{Root: f.layout.Root, Ecosystem: c.ecosystem},
		History:  c.history,
		Parallel: f.parallel,
		Clock:    clock.Real{},
		Front:    c.front,
	})
	workers := &cli.Table{Title: "workers in " + f.layout.Root, Header: []string{"host", "worker", "pid", "release", "status", "uptime", "restarts", "rss", "heap used/total", "heap trend"}}
	hist := &cli.Table{Title: "last activations", Header: []string{"host", "time", "action", "release", "from", "who"}}
	static := &cli.Table{Title: "static files of the previous release, through " + c.front, Header: []string{"host", "release", "result"}}
	var notServed []string
	for _, hs := range out {
		if hs.Err != nil {
			workers.Add(hs.Host, "-", "-", "-", "error: "+firstLine(hs.Error), "-", "-", "-", "-", "-")
			continue
		}
		if len(hs.Workers) == 0 {
			workers.Add(hs.Host, "-", "-", orDash(hs.Current), "no workers", "-", "-", "-", "-", "-")
		}
		for _, w := range append(hs.Workers, hs.Kept...) {
			workers.Add(hs.Host, w.App+"#"+w.ID, fmt.Sprint(w.PID), orDash(w.Release), keptCell(w), uptime(w),
				fmt.Sprint(w.Restarts), mib(w.RSS), heapCell(w.HeapUsed, w.HeapTotal), trendCell(w.Trend))
			if w.Leaking() {
				env.Warnf("%s: worker %s#%s (pid %d, release %s): heap %s over the last %.0fs, steadily: looks like a leak; take heap snapshots: next-deploy heap-snapshot --hosts %s --path %s",
					hs.Host, w.App, w.ID, w.PID, orDash(w.Release), w.Trend, w.Trend.Seconds, hs.Host, hs.Path)
			}
		}
		if s := hs.OldStatic; s != nil {
			result := "served"
			if !s.Served {
				result = "NOT served: " + s.Problem()
				notServed = append(notServed, hs.Host)
			}
			static.Add(hs.Host, s.Release, result)
		}
		for i := len(hs.History) - 1; i >= 0; i-- {
			e := hs.History[i]
			hist.Add(hs.Host, e.Time.UTC().Format(time.RFC3339), e.Action, e.Release, orDash(e.From), orDash(e.Who))
		}
	}
	if len(notServed) > 0 {
		env.Warnf("old releases' static files are not served on %s: a browser still on a page of the previous release gets 404 for its chunks; %s", strings.Join(notServed, ", "), nginx.Fix(f.layout.Root))
	}
	if len(static.Rows) == 0 {
		static = nil
	}
	if err := env.Report(out, workers, hist, static); err != nil {
		return err
	}
	return runErr
}

// mib prints a memory size in MiB, as Node and pm2 do; "-" for none.
func mib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func heapCell(used, total int64) string {
	if used <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f MiB", float64(used)/(1<<20), float64(total)/(1<<20))
}

func trendCell(t *memtrend.Trend) string {
	if t == nil {
		return "- (no memory report)"
	}
	if t.Verdict == memtrend.TooShort || t.Verdict == memtrend.TooYoung {
		return t.String()
	}
	return fmt.Sprintf("%s over %s", t, clock.Format(time.Duration(t.Seconds)*time.Second))
}

func uptime(w status.Worker) string {
	if w.Started.IsZero() {
		return "-"
	}
	return clock.Format(w.Uptime.Round(time.Second))
}

// keptCell is a worker's status, and for a kept app's (skew protection)
// until when it serves the tabs of its release.
func keptCell(w status.Worker) string {
	switch {
	case !w.Kept:
		return w.Status
	case w.KeptUntil.IsZero():
		return w.Status + " (kept)"
	}
	return w.Status + " (kept until " + w.KeptUntil.UTC().Format(time.TimeOnly) + ")"
}
