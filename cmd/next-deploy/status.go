package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/heap"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
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

// hostStatus is one host's answer, as printed by --json.
type hostStatus struct {
	Host     string          `json:"host"`
	Path     string          `json:"path"`
	Current  string          `json:"current"`
	Previous string          `json:"previous"`
	Workers  []workerStatus  `json:"workers"`
	History  []release.Entry `json:"history"`
	Error    string          `json:"error,omitempty"`
}

// workerStatus is one pm2 worker.
type workerStatus struct {
	App     string `json:"app"`
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	Status  string `json:"status"`
	Release string `json:"release"`
	// Started is when pm2 last started it; Restarts counts pm2's restarts.
	Started  time.Time `json:"started"`
	Restarts int       `json:"restarts"`
	// RSS is resident memory; the heap numbers and the trend come from
	// the drain preload's memory report (0 and no trend without one).
	RSS       int64       `json:"rss"`
	HeapUsed  int64       `json:"heap_used"`
	HeapTotal int64       `json:"heap_total"`
	HeapLimit int64       `json:"heap_limit"`
	Trend     *heap.Trend `json:"trend,omitempty"`
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
	runner := pm2.Runner{Root: f.layout.Root, Ecosystem: c.ecosystem}
	now := time.Now()
	results := eachHost(ctx, f, func(ctx context.Context, h remote.Host) (hostStatus, error) {
		return c.host(ctx, f.layout, runner, h)
	})
	out := make([]hostStatus, 0, len(results))
	workers := &cli.Table{Title: "workers in " + f.layout.Root, Header: []string{"host", "worker", "pid", "release", "status", "uptime", "restarts", "rss", "heap used/total", "heap trend"}}
	hist := &cli.Table{Title: "last activations", Header: []string{"host", "time", "action", "release", "from", "who"}}
	var failed []error
	for _, r := range results {
		hs := r.Value
		hs.Host, hs.Path = r.Target.String(), f.layout.Root
		if r.Err != nil {
			hs.Error = r.Err.Error()
			failed = append(failed, r.Err)
			workers.Add(hs.Host, "-", "-", "-", "error: "+firstLine(hs.Error), "-", "-", "-", "-", "-")
			out = append(out, hs)
			continue
		}
		if len(hs.Workers) == 0 {
			workers.Add(hs.Host, "-", "-", orDash(hs.Current), "no workers", "-", "-", "-", "-", "-")
		}
		for _, w := range hs.Workers {
			workers.Add(hs.Host, w.App+"#"+w.ID, fmt.Sprint(w.PID), orDash(w.Release), w.Status, uptime(now, w.Started),
				fmt.Sprint(w.Restarts), mib(w.RSS), heapCell(w.HeapUsed, w.HeapTotal), trendCell(w.Trend))
			if w.Trend != nil && w.Trend.Leaking() {
				env.Warnf("%s: worker %s#%s (pid %d, release %s): heap %s over the last %.0fs, steadily: looks like a leak; take heap snapshots: next-deploy heap-snapshot --hosts %s --path %s",
					hs.Host, w.App, w.ID, w.PID, orDash(w.Release), w.Trend, w.Trend.Seconds, hs.Host, f.layout.Root)
			}
		}
		for i := len(hs.History) - 1; i >= 0; i-- {
			e := hs.History[i]
			hist.Add(hs.Host, e.Time.UTC().Format(time.RFC3339), e.Action, e.Release, orDash(e.From), orDash(e.Who))
		}
		out = append(out, hs)
	}
	if err := env.Report(c.asJSON, out, workers, hist); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d hosts could not be read: %w", len(failed), len(results), errors.Join(failed...))
	}
	return nil
}

// host reads one host: its releases and history, its workers with their
// memory.
func (c *statusCmd) host(ctx context.Context, l release.Layout, runner pm2.Runner, h remote.Host) (hostStatus, error) {
	hs := hostStatus{Workers: []workerStatus{}, History: []release.Entry{}}
	st, err := l.State(ctx, h)
	if err != nil {
		return hs, err
	}
	hs.Current, hs.Previous = st.Current, st.Previous
	if n := len(st.History); n > 0 && c.history > 0 {
		hs.History = append(hs.History, st.History[max(0, n-c.history):]...)
	}
	site, workers, err := runner.Workers(ctx, h)
	if err != nil {
		return hs, err
	}
	for _, p := range workers {
		w := workerStatus{App: p.Name, ID: p.Key(), PID: p.PID, Status: p.Status, Release: site.ReleaseOf(p),
			Started: p.Started, Restarts: p.Restarts, RSS: p.RSS}
		if m := p.Memory; m != nil {
			w.RSS, w.HeapUsed, w.HeapTotal, w.HeapLimit = m.Last.RSS, m.Last.HeapUsed, m.Last.HeapTotal, m.HeapLimit
			t := heap.Analyze(heap.Points(m, time.Time{}), heap.DefaultRules)
			w.Trend = &t
		}
		hs.Workers = append(hs.Workers, w)
	}
	return hs, nil
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

func trendCell(t *heap.Trend) string {
	if t == nil {
		return "- (no memory report)"
	}
	if t.Verdict == heap.TooShort {
		return t.String()
	}
	return fmt.Sprintf("%s over %s", t, (time.Duration(t.Seconds) * time.Second).String())
}

func uptime(now, started time.Time) string {
	if started.IsZero() {
		return "-"
	}
	return now.Sub(started).Round(time.Second).String()
}
