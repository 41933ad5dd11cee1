// Package status owns reading what every host of a fleet holds and serves,
// changing nothing: its releases (which is current, which previous, the
// uploads in flight), its last activations, and each pm2 worker with the
// release it really runs, its uptime, restarts and memory with the heap
// trend, the workers of kept apps (skew protection) apart; and whether
// the previous release's static files are still served through the host's
// front (nginx), for browsers on its pages. It composes release, pm2,
// memtrend, nginx, fleet and clock; the command renders what it returns.
package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// Connector gives a connected host for a target (remote.Pool).
type Connector = fleet.Connector

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
	// Front is where browsers reach a host (nginx), as seen from the
	// host: a static file of the previous release is fetched there
	// (OldStatic). Run replaces {host} with each host's address; Read
	// takes it replaced. "" skips the check.
	Front string
}

// Host is one host's answer, as printed by --json. Kept are the workers
// of kept apps (skew protection: older releases serving the tabs opened
// on them), apart from the app's Workers.
type Host struct {
	Host     string          `json:"host"`
	Path     string          `json:"path"`
	Current  string          `json:"current"`
	Previous string          `json:"previous"`
	Workers  []Worker        `json:"workers"`
	Kept     []Worker        `json:"kept"`
	History  []release.Entry `json:"history"`
	// OldStatic is whether the previous release's static files are
	// served through the front; nil when not checked (no previous
	// release, no Front).
	OldStatic *nginx.Static `json:"old_static,omitempty"`
	Err       error         `json:"-"`
	Error     string        `json:"error,omitempty"`
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
	// Kept: the worker belongs to a kept app of skew protection, which
	// serves the tabs of an older release until KeptUntil.
	Kept      bool      `json:"kept,omitempty"`
	KeptUntil time.Time `json:"kept_until,omitzero"`
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
		o := o
		if o.Front != "" {
			addr := t.Host
			if t.Local {
				addr = "127.0.0.1"
			}
			if o.Front, err = health.Expand(o.Front, addr); err != nil {
				return Host{}, err
			}
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
// workers with their memory, and the kept apps' apart.
func Read(ctx context.Context, l release.Layout, h remote.Host, o Options) (Host, error) {
	hs := Host{Workers: []Worker{}, Kept: []Worker{}, History: []release.Entry{}}
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
		if w := worker(site, p, now); w.Kept {
			hs.Kept = append(hs.Kept, w)
		} else {
			hs.Workers = append(hs.Workers, w)
		}
	}
	if hs.OldStatic, err = oldStatic(ctx, l, h, st, o.Front); err != nil {
		return hs, err
	}
	return hs, nil
}

// oldStatic checks, as activate does after a switch, that the previous
// release's static files are served through front: without the nginx of
// config nginx, browsers on its pages lose their chunks.
func oldStatic(ctx context.Context, l release.Layout, h remote.Host, st *release.State, front string) (*nginx.Static, error) {
	prev := st.Find(st.Previous)
	if front == "" || prev == nil || !prev.Complete {
		return nil, nil
	}
	appDir := ""
	if prev.Manifest != nil {
		appDir = prev.Manifest.AppDir
	}
	return nginx.CheckStatic(ctx, h, l.Root, front, prev.ID, appDir)
}

// worker is what status shows of p, read at now.
func worker(site *pm2.Site, p pm2.Proc, now time.Time) Worker {
	w := Worker{App: p.Name, ID: p.Key(), PID: p.PID, Status: p.Status, Release: site.ReleaseOf(p),
		Started: p.Started, Restarts: p.Restarts, RSS: p.RSS}
	if !p.Started.IsZero() {
		w.Uptime = now.Sub(p.Started)
	}
	if _, _, ok := site.IsSkew(p.Name); ok {
		w.Kept, w.KeptUntil = true, p.SkewUntil
	}
	if m := p.Memory; m != nil {
		w.RSS, w.HeapUsed, w.HeapTotal, w.HeapLimit = m.Last.RSS, m.Last.HeapUsed, m.Last.HeapTotal, m.HeapLimit
		t := memtrend.Analyze(memtrend.Points(m, time.Time{}), p.Started, memtrend.DefaultRules)
		w.Trend = &t
	}
	return w
}
