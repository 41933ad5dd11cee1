package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/prune"
	"github.com/org/next-deploy/pkg/release"
)

type pruneCmd struct {
	conn           connFlags
	keep           int
	keepDays       int
	release        string
	dryRun         bool
	stale          time.Duration
	staleMinutes   int // deprecated --stale-minutes; 0: not given
	breakLockAfter time.Duration
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
	fs.DurationVar(&c.stale, "stale-after", release.DefaultStaleAfter, staleAfterUsage)
	fs.Func("stale-minutes", "deprecated: --stale-after in minutes; when given, it wins over --stale-after", func(s string) error {
		n, err := strconv.Atoi(s)
		if err == nil && n < 1 {
			err = errors.New("want 1 or more")
		}
		c.staleMinutes = n
		return err
	})
	fs.DurationVar(&c.breakLockAfter, "break-lock-after", 0, "break a deploy lock older than this (a dead deploy's); 0 never")
	cli.JSONFlag(fs)
}

func (c *pruneCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if c.keep < 1 {
		errs = append(errs, fmt.Errorf("--keep %d: want 1 or more", c.keep))
	}
	if c.keepDays < 0 {
		errs = append(errs, fmt.Errorf("--keep-days %d: want 0 or more", c.keepDays))
	}
	if c.staleMinutes > 0 {
		env.Warnf("--stale-minutes (input stale-minutes) is deprecated: use --stale-after %dm (input stale-after)", c.staleMinutes)
		c.stale = time.Duration(c.staleMinutes) * time.Minute
	}
	if err := checkStaleAfter(c.stale); err != nil {
		errs = append(errs, err)
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
	results, runErr := prune.Run(ctx, f.pool, f.targets, f.layout, prune.Options{
		Keep:           c.keep,
		KeepFor:        time.Duration(c.keepDays) * 24 * time.Hour,
		Release:        c.release,
		DryRun:         c.dryRun,
		StaleAfter:     c.stale,
		BreakLockAfter: c.breakLockAfter,
		Parallel:       f.parallel,
		Who:            whoAmI(),
		Run:            runURL(env),
		PID:            os.Getpid(),
		Clock:          clock.Real{},
	})
	t := &cli.Table{Title: "prune " + f.layout.Root, Header: []string{"host", "removed", "kept", "freed", "stale uploads", "error"}}
	if c.dryRun {
		t.Title += " (dry run: nothing removed)"
	}
	for _, r := range results {
		kept := make([]string, len(r.Kept))
		for i, k := range r.Kept {
			kept[i] = k.ID + " (" + k.Why + ")"
		}
		t.Add(r.Host, orDash(strings.Join(r.Removed, " ")), orDash(strings.Join(kept, ", ")), humanBytes(r.Freed), fmt.Sprint(r.Stale), firstLine(r.Error))
	}
	env.SetOutput("removed", strings.Join(prune.Removed(results), ","))
	if err := env.Report(results, t); err != nil {
		return err
	}
	return runErr
}
