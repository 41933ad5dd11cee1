package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/heap"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

type heapSnapshotCmd struct {
	conn       connFlags
	ecosystem  string
	workers    string
	out        string
	diskMargin string
	timeout    time.Duration
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
	cli.JSONFlag(fs)
}

var sizeRe = regexp.MustCompile(`^([0-9]+)([KMGT]?)$`)

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

func (c *heapSnapshotCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if err := pm2.CheckEcosystemPath(c.ecosystem); err != nil {
		errs = append(errs, fmt.Errorf("--ecosystem: %w", err))
	}
	var workers []string
	for w := range strings.SplitSeq(c.workers, ",") {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		// pm2 ids and app names follow the release id rule (pm2's names do).
		if !release.IDRe.MatchString(w) {
			errs = append(errs, fmt.Errorf("--workers: %q: want pm2 ids or app names", w))
		}
		workers = append(workers, w)
	}
	if strings.TrimSpace(c.out) == "" {
		errs = append(errs, errors.New("--out: want a directory"))
	}
	margin, err := parseSize(c.diskMargin)
	if err != nil {
		errs = append(errs, fmt.Errorf("--disk-margin %w", err))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: want more than 0", clock.Format(c.timeout)))
	}
	f, err := c.conn.open(env)
	if err != nil || len(errs) > 0 {
		return cli.Usage(errors.Join(append(errs, err)...))
	}
	defer f.close()
	results, err := heap.Snapshots(ctx, heap.SnapshotOptions{
		Conn: f.pool, Targets: f.targets, Parallel: f.parallel,
		PM2:     pm2.Runner{Root: f.layout.Root, Ecosystem: c.ecosystem},
		Workers: workers, Out: c.out, Margin: margin, Timeout: c.timeout,
		Progress: func(host, format string, a ...any) { env.Progressf("%s: "+format, append([]any{host}, a...)...) },
	})
	if results == nil {
		return err // refused (heap.ErrRefused) or no --out: no table
	}
	if rerr := c.report(env, results); rerr != nil {
		return rerr
	}
	return err
}

func (c *heapSnapshotCmd) report(env *cli.Env, results []fleet.Result[[]heap.Result]) error {
	t := &cli.Table{Title: "heap snapshots", Header: []string{"host", "worker", "pid", "heap", "snapshot", "size", "error"}}
	out := []heap.Result{}
	for _, r := range results {
		if len(r.Value) == 0 && r.Err != nil {
			t.Add(r.Target.String(), "-", "-", "-", "-", "-", firstLine(r.Err.Error()))
		}
		for _, s := range r.Value {
			t.Add(s.Host, s.App+"#"+s.ID, fmt.Sprint(s.PID), mib(s.Heap), orDash(s.File), humanBytes(s.Bytes), firstLine(s.Error))
			out = append(out, s)
		}
	}
	if err := env.Report(out, t); err != nil {
		return err
	}
	if !env.JSON() {
		fmt.Fprintln(env.Stdout, "\n"+openHint)
	}
	if env.InActions && env.Getenv("GITHUB_STEP_SUMMARY") != "" {
		env.Action.AddStepSummary(openHint + "\n")
	}
	return nil
}

const openHint = "Open a snapshot in Chrome DevTools (any page, F12): Memory tab, Load (the arrow up), pick the .heapsnapshot file. " +
	"For a leak, load two snapshots of one worker taken minutes apart under traffic and choose Comparison: what grows is listed first."
