// Package status owns reading what every host of a fleet holds and serves,
// changing nothing: its releases (which is current, which previous, the
// uploads in flight), its last activations, and each pm2 worker with the
// release it really runs, its uptime, restarts and memory with the heap
// trend. It composes release, pm2, heap, fleet and clock; the command
// renders what it returns.
package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// Connector gives a connected host for a target (remote.Pool).
type Connector interface {
	Get(ctx context.Context, t inventory.Target) (remote.Host, error)
}

// WorkerReader reads a host's pm2 site and its workers with their memory
// (pm2.Runner).
type WorkerReader interface {
	Workers(ctx context.Context, h remote.Host) (*pm2.Site, []pm2.Proc, error)
}

// Options say what a status read shows and how it works.
type Options struct {
	// PM2 reads the workers: a pm2.Runner for the deploy root and the
	// ecosystem file whose apps are shown.
	PM2 WorkerReader
	// History is the number of activations kept per host, newest last.
	History int
	// Parallel is the number of hosts read at once (<=0: all).
	Parallel int
	// Clock is "now" for the workers' uptime (nil: the wall clock).
	Clock clock.Clock
}

// Host is one host's answer, as printed by --json.
type Host struct {
	Host     string          `json:"host"`
	Path     string          `json:"path"`
	Current  string          `json:"current"`
	Previous string          `json:"previous"`
	Workers  []Worker        `json:"workers"`
	History  []release.Entry `json:"history"`
	Err      error           `json:"-"`
	Error    string          `json:"error,omitempty"`
}

// Worker is one pm2 worker.
type Worker struct {
	App     string `json:"app"`
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	Status  string `json:"status"`
	Release string `json:"release"`
	// Started is when pm2 last started it; Restarts counts pm2's restarts.
	Started  time.Time `json:"started"`
	Restarts int       `json:"restarts"`
	// Uptime is the time since Started when the host was read (0 when
	// pm2 gave no start time).
	Uptime time.Duration `json:"-"`
	// RSS is resident memory; the heap numbers and the trend come from
	// the drain preload's memory report (0 and no trend without one).
	RSS       int64           `json:"rss"`
	HeapUsed  int64           `json:"heap_used"`
	HeapTotal int64           `json:"heap_total"`
	HeapLimit int64           `json:"heap_limit"`
	Trend     *memtrend.Trend `json:"trend,omitempty"`
}

// Leaking reports whether the worker's heap trend looks like a leak.
func (w Worker) Leaking() bool { return w.Trend != nil && w.Trend.Leaking() }

// Run reads every target under layout, o.Parallel at a time, and returns
// every host's answer in the order of targets. The error says how many
// hosts could not be read and why; the others are answered all the same.
func Run(ctx context.Context, conn Connector, targets []inventory.Target, layout release.Layout, o Options) ([]Host, error) {
	rs := fleet.Each(ctx, targets, o.Parallel, func(ctx context.Context, _ int, t inventory.Target) (Host, error) {
		h, err := conn.Get(ctx, t)
		if err != nil {
			return Host{}, err
		}
		return Read(ctx, layout, h, o)
	})
	out := make([]Host, len(rs))
	var failed []error
	for i, r := range rs {
		out[i] = r.Value
		out[i].Host, out[i].Path = r.Target.String(), layout.Root
		if r.Err != nil {
			out[i].Err, out[i].Error = r.Err, r.Err.Error()
			failed = append(failed, r.Err)
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d hosts could not be read: %w", len(failed), len(rs), errors.Join(failed...))
	}
	return out, nil
}

// Read reads one host: its releases and last o.History activations, its
// workers with their memory.
func Read(ctx context.Context, l release.Layout, h remote.Host, o Options) (Host, error) {
	hs := Host{Workers: []Worker{}, History: []release.Entry{}}
	st, err := l.State(ctx, h)
	if err != nil {
		return hs, err
	}
	hs.Current, hs.Previous = st.Current, st.Previous
	if n := len(st.History); n > 0 && o.History > 0 {
		hs.History = append(hs.History, st.History[max(0, n-o.History):]...)
	}
	site, procs, err := o.PM2.Workers(ctx, h)
	if err != nil {
		return hs, err
	}
	now := clock.Or(o.Clock).Now()
	for _, p := range procs {
		hs.Workers = append(hs.Workers, worker(site, p, now))
	}
	return hs, nil
}

// worker is what status shows of p, read at now.
func worker(site *pm2.Site, p pm2.Proc, now time.Time) Worker {
	w := Worker{App: p.Name, ID: p.Key(), PID: p.PID, Status: p.Status, Release: site.ReleaseOf(p),
		Started: p.Started, Restarts: p.Restarts, RSS: p.RSS}
	if !p.Started.IsZero() {
		w.Uptime = now.Sub(p.Started)
	}
	if m := p.Memory; m != nil {
		w.RSS, w.HeapUsed, w.HeapTotal, w.HeapLimit = m.Last.RSS, m.Last.HeapUsed, m.Last.HeapTotal, m.HeapLimit
		t := memtrend.Analyze(memtrend.Points(m, time.Time{}), p.Started, memtrend.DefaultRules)
		w.Trend = &t
	}
	return w
}
