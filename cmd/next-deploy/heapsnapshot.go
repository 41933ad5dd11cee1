package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/heap"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/remote"
)

type heapSnapshotCmd struct {
	conn       connFlags
	ecosystem  string
	workers    string
	out        string
	diskMargin string
	timeout    time.Duration
	asJSON     bool
}

func (*heapSnapshotCmd) Name() string { return "heap-snapshot" }
func (*heapSnapshotCmd) Synopsis() string {
	return "take a heap snapshot of every pm2 worker (or those named), download it and remove it from the host: open it in Chrome DevTools, Memory tab"
}

func (c *heapSnapshotCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.ecosystem, "ecosystem", pm2.DefaultEcosystem, "pm2 ecosystem file on the host, relative to --path: its apps' workers are snapshotted")
	fs.StringVar(&c.workers, "workers", "", "only these workers: pm2 ids or app names, comma-separated (default: every online worker)")
	fs.StringVar(&c.out, "out", "heap-snapshots", "local directory for the snapshots: <out>/<host>/<app>-<id>-pid<pid>-<time>.heapsnapshot")
	fs.StringVar(&c.diskMargin, "disk-margin", "256M", "free disk space to leave on a host besides 2 x the worker's heap; a host with less is refused")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "how long one worker may take to write its snapshot")
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
}

var (
	workerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	sizeRe   = regexp.MustCompile(`^([0-9]+)([KMGT]?)$`)
)

// parseSize reads 512M, 1G, 0.
func parseSize(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q: want a size like 256M or 1G", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	if err != nil || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return n << shift, nil
}

// snapTarget is a worker to snapshot, with what the host said about it.
type snapTarget struct {
	proc  pm2.Proc
	probe heap.Probe
	heap  int64
}

// snapResult is one snapshot, as printed by --json.
type snapResult struct {
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

func (c *heapSnapshotCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if err := pm2.CheckEcosystemPath(c.ecosystem); err != nil {
		errs = append(errs, fmt.Errorf("--ecosystem: %w", err))
	}
	want := map[string]bool{}
	for w := range strings.SplitSeq(c.workers, ",") {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		if !workerRe.MatchString(w) {
			errs = append(errs, fmt.Errorf("--workers: %q: want pm2 ids or app names", w))
		}
		want[w] = true
	}
	if strings.TrimSpace(c.out) == "" {
		errs = append(errs, errors.New("--out: want a directory"))
	}
	margin, err := parseSize(c.diskMargin)
	if err != nil {
		errs = append(errs, fmt.Errorf("--disk-margin %w", err))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: want more than 0", c.timeout))
	}
	f, err := c.conn.open(env)
	if err != nil || len(errs) > 0 {
		return cli.Usage(errors.Join(append(errs, err)...))
	}
	defer f.close()
	runner := pm2.Runner{Root: f.layout.Root, Ecosystem: c.ecosystem}

	// Preflight on every host before any worker is signalled.
	plans := eachHost(ctx, f, func(ctx context.Context, h remote.Host) ([]snapTarget, error) {
		return c.preflight(ctx, runner, h, want, margin)
	})
	var refused []error
	for _, p := range plans {
		if p.Err != nil {
			refused = append(refused, p.Err)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("heap-snapshot refused, no worker was signalled: %w", errors.Join(refused...))
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	byTarget := map[string][]snapTarget{}
	for _, p := range plans {
		byTarget[p.Target.String()] = p.Value
	}
	results := fleet.Each(ctx, f.targets, f.parallel, func(ctx context.Context, _ int, t inventory.Target) ([]snapResult, error) {
		h, err := f.pool.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		return c.take(ctx, env, h, t.String(), byTarget[t.String()])
	})
	return c.report(env, results)
}

// preflight picks a host's workers and checks each can be snapshotted:
// it handles the signal, and the disk holds 2 x its heap + margin.
func (c *heapSnapshotCmd) preflight(ctx context.Context, runner pm2.Runner, h remote.Host, want map[string]bool, margin int64) ([]snapTarget, error) {
	site, workers, err := runner.Workers(ctx, h)
	if err != nil {
		return nil, err
	}
	var targets []snapTarget
	for _, p := range workers {
		if p.Status != "online" || p.PID == 0 || (len(want) > 0 && !want[p.Key()] && !want[p.Name]) {
			continue
		}
		size := p.RSS
		if p.Memory != nil {
			size = p.Memory.Last.HeapTotal
		}
		targets = append(targets, snapTarget{proc: p, heap: size})
	}
	if len(targets) == 0 {
		what := "no online worker"
		if len(want) > 0 {
			what += " matching --workers " + c.workers
		}
		return nil, fmt.Errorf("%s: %s in %s (next-deploy status shows them)", h.Name(), what, site.Root)
	}
	ws := make([]heap.Worker, len(targets))
	for i, t := range targets {
		ws[i].PID = t.proc.PID
		if m := t.proc.Memory; m != nil {
			ws[i].Signal, ws[i].Dir = m.HeapSignal, m.DiagnosticDir
		}
	}
	probes, err := heap.ProbeWorkers(ctx, h, ws)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := range targets {
		targets[i].probe = probes[i]
		if err := probes[i].Check(targets[i].heap, margin); err != nil {
			errs = append(errs, fmt.Errorf("%s: worker %s#%s: %w", h.Name(), targets[i].proc.Name, targets[i].proc.Key(), err))
		}
	}
	return targets, errors.Join(errs...)
}

// take snapshots a host's workers one at a time: each stops serving
// while it writes, the others keep serving. Every snapshot is removed
// from the host, downloaded or not.
func (c *heapSnapshotCmd) take(ctx context.Context, env *cli.Env, h remote.Host, host string, targets []snapTarget) ([]snapResult, error) {
	dir := filepath.Join(c.out, fileSafe(host))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	var out []snapResult
	var errs []error
	for _, t := range targets {
		r := snapResult{Host: host, App: t.proc.Name, ID: t.proc.Key(), PID: t.proc.PID, Heap: t.heap}
		env.Progressf("%s: heap snapshot of worker %s#%s (pid %d, heap %s): it pauses while it writes", host, r.App, r.ID, r.PID, mib(t.heap))
		if err := c.one(ctx, env, h, t, dir, &r); err != nil {
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

func (c *heapSnapshotCmd) one(ctx context.Context, env *cli.Env, h remote.Host, t snapTarget, dir string, r *snapResult) (err error) {
	s, err := heap.Take(ctx, h, t.probe, c.timeout)
	if err != nil {
		return err
	}
	r.Remote = s.Path
	defer func() {
		// Removed even when the download failed or was interrupted.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err = errors.Join(err, s.Remove(rctx, h))
	}()
	name := fmt.Sprintf("%s-%s-pid%d-%s.heapsnapshot", fileSafe(t.proc.Name), fileSafe(t.proc.Key()), t.proc.PID, time.Now().UTC().Format("20060102T150405Z"))
	final := filepath.Join(dir, name)
	env.Progressf("%s: downloading %s (%s) to %s", h.Name(), s.Path, mib(s.Size), final)
	tmp, err := os.CreateTemp(dir, ".download-*")
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
	if err := os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	r.File, r.Bytes = final, s.Size
	return nil
}

func (c *heapSnapshotCmd) report(env *cli.Env, results []fleet.Result[[]snapResult]) error {
	t := &cli.Table{Title: "heap snapshots", Header: []string{"host", "worker", "pid", "heap", "snapshot", "size", "error"}}
	out := []snapResult{}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
		if len(r.Value) == 0 && r.Err != nil {
			t.Add(r.Target.String(), "-", "-", "-", "-", "-", firstLine(r.Err.Error()))
		}
		for _, s := range r.Value {
			t.Add(s.Host, s.App+"#"+s.ID, fmt.Sprint(s.PID), mib(s.Heap), orDash(s.File), humanBytes(s.Bytes), firstLine(s.Error))
			out = append(out, s)
		}
	}
	if err := env.Report(c.asJSON, out, t); err != nil {
		return err
	}
	if !c.asJSON {
		fmt.Fprintln(env.Stdout, "\n"+openHint)
	}
	if env.InActions && env.Getenv("GITHUB_STEP_SUMMARY") != "" {
		env.Action.AddStepSummary(openHint + "\n")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d hosts did not give every snapshot: %w", len(errs), len(results), errors.Join(errs...))
	}
	return nil
}

const openHint = "Open a snapshot in Chrome DevTools (any page, F12): Memory tab, Load (the arrow up), pick the .heapsnapshot file. " +
	"For a leak, load two snapshots of one worker taken minutes apart under traffic and choose Comparison: what grows is listed first."

// fileSafe makes s a file name on any system: user@10.0.0.5:22 -> user@10.0.0.5_22.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._-", r) {
			return r
		}
		return '_'
	}, s)
}
