package heap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/remote"
)

// Connector gives a connected host for a target (remote.Pool).
type Connector = fleet.Connector

// PM2 is what heap asks pm2 on a host (pm2.Runner).
type PM2 interface {
	Inspect(ctx context.Context, h remote.Host) (*pm2.Site, error)
	StatusMemory(ctx context.Context, h remote.Host) ([]pm2.Proc, error)
}

// SnapshotOptions say which workers Snapshots takes and where it puts
// their snapshots.
type SnapshotOptions struct {
	Conn     Connector
	Targets  []inventory.Target
	Parallel int
	PM2      PM2
	// Workers are pm2 ids or app names; empty: every online worker.
	Workers []string
	// Out is the local directory: <Out>/<host>/<app>-<id>-pid<pid>-<time>.heapsnapshot.
	Out string
	// Margin is the free disk space to leave on a host besides 2 x the
	// worker's heap (Need).
	Margin int64
	// Timeout is how long one worker may take to write its snapshot.
	Timeout time.Duration
	// Clock names the files.
	Clock clock.Clock
	// Progress is told what happens on each host.
	Progress func(host, format string, a ...any)
}

// Result is one worker's snapshot.
type Result struct {
	Host   string `json:"host"`
	App    string `json:"app"`
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	File   string `json:"file,omitempty"`
	Bytes  int64  `json:"bytes"`
	Heap   int64  `json:"heap"`
	Remote string `json:"remote,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ErrRefused is returned when the preflight refused a host: no worker
// anywhere was signalled.
var ErrRefused = errors.New("heap-snapshot refused, no worker was signalled")

// Snapshots checks every host's workers first (each handles its
// snapshot signal, the disk holds 2 x its heap + margin), and only when
// every host passes takes the snapshots: a host's workers one at a
// time (each stops serving while it writes, the others keep serving),
// each downloaded into Out and removed from the host, downloaded or not.
// It returns every host's results, and an error when any host failed
// (ErrRefused when nothing was done).
func Snapshots(ctx context.Context, o SnapshotOptions) ([]fleet.Result[[]Result], error) {
	want := map[string]bool{}
	for _, w := range o.Workers {
		want[w] = true
	}
	plans := fleet.Each(ctx, o.Targets, o.Parallel, func(ctx context.Context, _ int, t inventory.Target) ([]target, error) {
		h, err := o.Conn.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		return o.preflight(ctx, h, want)
	})
	var refused []error
	for _, p := range fleet.Failed(plans) {
		refused = append(refused, p.Err)
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrRefused, errors.Join(refused...))
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	results := fleet.Each(ctx, o.Targets, o.Parallel, func(ctx context.Context, i int, t inventory.Target) ([]Result, error) {
		h, err := o.Conn.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		return o.take(ctx, h, t.String(), plans[i].Value)
	})
	if failed := fleet.Failed(results); len(failed) > 0 {
		errs := make([]error, len(failed))
		for i, r := range failed {
			errs[i] = r.Err
		}
		return results, fmt.Errorf("%d of %d hosts did not give every snapshot: %w", len(failed), len(results), errors.Join(errs...))
	}
	return results, nil
}

// target is a worker to snapshot, with what the host said about it.
type target struct {
	proc  pm2.Proc
	probe Probe
	heap  int64
}

// preflight picks a host's workers and checks each can be snapshotted.
func (o *SnapshotOptions) preflight(ctx context.Context, h remote.Host, want map[string]bool) ([]target, error) {
	site, err := o.PM2.Inspect(ctx, h)
	if err != nil {
		return nil, err
	}
	ps, err := o.PM2.StatusMemory(ctx, h)
	if err != nil {
		return nil, err
	}
	var targets []target
	for _, p := range site.Workers(ps) {
		if p.Status != "online" || p.PID == 0 || (len(want) > 0 && !want[p.Key()] && !want[p.Name]) {
			continue
		}
		size := p.RSS
		if p.Memory != nil {
			size = p.Memory.Last.HeapTotal
		}
		targets = append(targets, target{proc: p, heap: size})
	}
	if len(targets) == 0 {
		what := "no online worker"
		if len(want) > 0 {
			what += " matching --workers " + strings.Join(o.Workers, ",")
		}
		return nil, fmt.Errorf("%s: %s in %s (next-deploy status shows them)", h.Name(), what, site.Root)
	}
	ws := make([]Worker, len(targets))
	for i, t := range targets {
		ws[i].PID = t.proc.PID
		if m := t.proc.Memory; m != nil {
			ws[i].Signal, ws[i].Dir = m.HeapSignal, m.DiagnosticDir
		}
	}
	probes, err := ProbeWorkers(ctx, h, ws)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := range targets {
		targets[i].probe = probes[i]
		if err := probes[i].Check(targets[i].heap, o.Margin); err != nil {
			errs = append(errs, fmt.Errorf("%s: worker %s#%s: %w", h.Name(), targets[i].proc.Name, targets[i].proc.Key(), err))
		}
	}
	return targets, errors.Join(errs...)
}

// take snapshots a host's workers one at a time.
func (o *SnapshotOptions) take(ctx context.Context, h remote.Host, host string, targets []target) ([]Result, error) {
	dir := filepath.Join(o.Out, fileSafe(host))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	var out []Result
	var errs []error
	for _, t := range targets {
		r := Result{Host: host, App: t.proc.Name, ID: t.proc.Key(), PID: t.proc.PID, Heap: t.heap}
		o.progress(host, "heap snapshot of worker %s#%s (pid %d, heap %s): it pauses while it writes", r.App, r.ID, r.PID, mb(t.heap))
		if err := o.one(ctx, h, t, dir, &r); err != nil {
			r.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: worker %s#%s: %w", host, r.App, r.ID, err))
		}
		out = append(out, r)
		if ctx.Err() != nil {
			break
		}
	}
	return out, errors.Join(errs...)
}

// removeTimeout bounds the removal of a snapshot after the download,
// which runs even when ctx is cancelled.
const removeTimeout = 30 * time.Second

// one takes, downloads and removes one worker's snapshot.
func (o *SnapshotOptions) one(ctx context.Context, h remote.Host, t target, dir string, r *Result) (err error) {
	s, err := Take(ctx, h, t.probe, o.Timeout)
	if err != nil {
		return err
	}
	r.Remote = s.Path
	defer func() {
		// Removed even when the download failed or was interrupted.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
		defer cancel()
		err = errors.Join(err, s.Remove(rctx, h))
	}()
	final := filepath.Join(dir, FileName(t.proc.Name, t.proc.Key(), t.proc.PID, clock.Or(o.Clock).Now()))
	o.progress(h.Name(), "downloading %s (%s) to %s", s.Path, mb(s.Size), final)
	if err := download(ctx, h, s, final); err != nil {
		return err
	}
	r.File, r.Bytes = final, s.Size
	return nil
}

// download fetches s into a temporary file next to final, renamed to
// final only when it arrived whole.
func download(ctx context.Context, h remote.Host, s *Snapshot, final string) error {
	tmp, err := os.CreateTemp(filepath.Dir(final), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := s.Fetch(ctx, h, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

func (o *SnapshotOptions) progress(host, format string, a ...any) {
	if o.Progress != nil {
		o.Progress(host, format, a...)
	}
}

// FileName is the local name of a snapshot of worker app#id (pid) taken
// at t: web-0-pid4242-20260102T030405Z.heapsnapshot.
func FileName(app, id string, pid int, t time.Time) string {
	return fmt.Sprintf("%s-%s-pid%d-%s%s", fileSafe(app), fileSafe(id), pid, t.UTC().Format("20060102T150405Z"), snapSuffix)
}

// fileSafe makes s a file name on any system: user@10.0.0.5:22 -> user@10.0.0.5_22.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._-", r) {
			return r
		}
		return '_'
	}, s)
}
