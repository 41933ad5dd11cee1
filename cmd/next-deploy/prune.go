package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

type pruneCmd struct {
	conn           connFlags
	keep           int
	keepDays       int
	release        string
	dryRun         bool
	staleMinutes   int
	breakLockAfter time.Duration
	asJSON         bool
}

func (*pruneCmd) Name() string { return "prune" }
func (*pruneCmd) Synopsis() string {
	return "remove old releases from every host, keeping the newest N; never current, the previous one, or one in use"
}

func (c *pruneCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.IntVar(&c.keep, "keep", 5, "newest releases kept (by delivery and activation history), current included")
	fs.IntVar(&c.keepDays, "keep-days", 0, "also keep every release delivered or current within this many days; 0: no such rule")
	fs.StringVar(&c.release, "release", "", "a release never removed (the one being activated)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "say what would be removed, remove nothing")
	fs.IntVar(&c.staleMinutes, "stale-minutes", 60, "remove abandoned uploads (releases/.incoming-*) older than this")
	fs.DurationVar(&c.breakLockAfter, "break-lock-after", 0, "break a deploy lock older than this (a dead deploy's); 0 never")
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
}

// hostPrune is one host's result, as printed by --json.
type hostPrune struct {
	Host    string         `json:"host"`
	Removed []string       `json:"removed"`
	Kept    []release.Kept `json:"kept"`
	Freed   int64          `json:"freed_bytes"`
	Stale   int            `json:"stale_uploads_removed"`
	DryRun  bool           `json:"dry_run"`
	Error   string         `json:"error,omitempty"`
}

func (c *pruneCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if c.keep < 1 {
		errs = append(errs, fmt.Errorf("--keep %d: want 1 or more", c.keep))
	}
	if c.keepDays < 0 {
		errs = append(errs, fmt.Errorf("--keep-days %d: want 0 or more", c.keepDays))
	}
	if c.release != "" {
		if err := release.ValidID(c.release); err != nil {
			errs = append(errs, fmt.Errorf("--release: %w", err))
		}
	}
	f, err := c.conn.open(env)
	if len(errs) > 0 || err != nil {
		return cli.Usage(errors.Join(append(errs, err)...))
	}
	defer f.close()
	who := whoAmI()
	results := eachHost(ctx, f, func(ctx context.Context, h remote.Host) (hostPrune, error) {
		return c.pruneHost(ctx, f.layout, h, who, runURL(env))
	})
	t := &cli.Table{Title: "prune " + f.layout.Root, Header: []string{"host", "removed", "kept", "freed", "stale uploads", "error"}}
	out := make([]hostPrune, 0, len(results))
	var failed []error
	var removed []string
	for _, r := range results {
		hp := r.Value
		hp.Host = r.Target.String()
		if r.Err != nil {
			hp.Error = r.Err.Error()
			failed = append(failed, r.Err)
		}
		kept := make([]string, len(hp.Kept))
		for i, k := range hp.Kept {
			kept[i] = k.ID + " (" + k.Why + ")"
		}
		t.Add(hp.Host, orDash(strings.Join(hp.Removed, " ")), orDash(strings.Join(kept, ", ")), humanBytes(hp.Freed), fmt.Sprint(hp.Stale), firstLine(hp.Error))
		removed = append(removed, hp.Removed...)
		out = append(out, hp)
	}
	if c.dryRun {
		t.Title += " (dry run: nothing removed)"
	}
	env.SetOutput("removed", strings.Join(dedupe(removed), ","))
	if err := env.Report(c.asJSON, out, t); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("prune failed on %d of %d hosts: %w", len(failed), len(results), errors.Join(failed...))
	}
	return nil
}

// pruneHost prunes one host under its deploy lock.
func (c *pruneCmd) pruneHost(ctx context.Context, l release.Layout, h remote.Host, who, run string) (hp hostPrune, err error) {
	hp = hostPrune{DryRun: c.dryRun, Removed: []string{}}
	lock, err := l.Acquire(ctx, h, who, run, os.Getpid(), c.breakLockAfter)
	if err != nil {
		return hp, err
	}
	defer func() {
		if uerr := lock.Unlock(ctx); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	st, err := l.State(ctx, h)
	if err != nil {
		return hp, err
	}
	inUse, err := l.InUse(ctx, h)
	if err != nil {
		return hp, err
	}
	o := release.PruneOptions{Keep: c.keep, KeepFor: time.Duration(c.keepDays) * 24 * time.Hour, Now: time.Now()}
	if c.release != "" {
		o.Protect = []string{c.release}
	}
	plan := release.PlanPrune(st, inUse, o)
	hp.Kept, hp.Freed = plan.Keep, plan.Freed
	if c.dryRun {
		hp.Removed = append(hp.Removed, plan.Remove...)
		return hp, nil
	}
	if err := l.Remove(ctx, h, plan.Remove); err != nil {
		return hp, fmt.Errorf("%w: run prune again; what is left is complete", err)
	}
	hp.Removed = append(hp.Removed, plan.Remove...)
	if hp.Stale, err = l.CleanStale(ctx, h, c.staleMinutes); err != nil {
		return hp, err
	}
	return hp, nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
