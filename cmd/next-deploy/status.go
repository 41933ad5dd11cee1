package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/status"
)

type statusCmd struct {
	conn      connFlags
	ecosystem string
	history   int
	asJSON    bool
}

func (*statusCmd) Name() string { return "status" }
func (*statusCmd) Synopsis() string {
	return "what every host serves: each worker's release, pm2 status, uptime, restarts, memory and heap trend, and the last activations"
}

func (c *statusCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.ecosystem, "ecosystem", pm2.DefaultEcosystem, "pm2 ecosystem file on the host, relative to --path: its apps are the workers shown")
	fs.IntVar(&c.history, "history", 3, "activations shown per host, newest first")
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
}

func (c *statusCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if err := pm2.CheckEcosystemPath(c.ecosystem); err != nil {
		errs = append(errs, fmt.Errorf("--ecosystem: %w", err))
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
	})
	workers := &cli.Table{Title: "workers in " + f.layout.Root, Header: []string{"host", "worker", "pid", "release", "status", "uptime", "restarts", "rss", "heap used/total", "heap trend"}}
	hist := &cli.Table{Title: "last activations", Header: []string{"host", "time", "action", "release", "from", "who"}}
	for _, hs := range out {
		if hs.Err != nil {
			workers.Add(hs.Host, "-", "-", "-", "error: "+firstLine(hs.Error), "-", "-", "-", "-", "-")
			continue
		}
		if len(hs.Workers) == 0 {
			workers.Add(hs.Host, "-", "-", orDash(hs.Current), "no workers", "-", "-", "-", "-", "-")
		}
		for _, w := range hs.Workers {
			workers.Add(hs.Host, w.App+"#"+w.ID, fmt.Sprint(w.PID), orDash(w.Release), w.Status, uptime(w),
				fmt.Sprint(w.Restarts), mib(w.RSS), heapCell(w.HeapUsed, w.HeapTotal), trendCell(w.Trend))
			if w.Leaking() {
				env.Warnf("%s: worker %s#%s (pid %d, release %s): heap %s over the last %.0fs, steadily: looks like a leak; take heap snapshots: next-deploy heap-snapshot --hosts %s --path %s",
					hs.Host, w.App, w.ID, w.PID, orDash(w.Release), w.Trend, w.Trend.Seconds, hs.Host, hs.Path)
			}
		}
		for i := len(hs.History) - 1; i >= 0; i-- {
			e := hs.History[i]
			hist.Add(hs.Host, e.Time.UTC().Format(time.RFC3339), e.Action, e.Release, orDash(e.From), orDash(e.Who))
		}
	}
	if err := env.Report(c.asJSON, out, workers, hist); err != nil {
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
	return fmt.Sprintf("%s over %s", t, (time.Duration(t.Seconds) * time.Second).String())
}

func uptime(w status.Worker) string {
	if w.Started.IsZero() {
		return "-"
	}
	return w.Uptime.Round(time.Second).String()
}
