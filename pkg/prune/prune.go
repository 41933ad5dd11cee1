// Package prune owns removing old releases from every host of a fleet: on
// each host, under its deploy lock, the releases release.PlanPrune gives
// up (never current, the previous one, a protected one or one a process
// runs in), then the uploads abandoned long enough. It composes release,
// fleet and clock; the choice itself is release.PlanPrune's.
package prune

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// Connector gives a connected host for a target (remote.Pool).
type Connector = fleet.Connector

// Options say what a prune keeps and how it works.
type Options struct {
	// Keep is the number of newest complete releases kept, current
	// included (at least 1).
	Keep int
	// KeepFor keeps, besides, every release delivered or current within
	// this long (0: no such rule).
	KeepFor time.Duration
	// Release is never removed (the one being activated); "" for none.
	Release string
	// DryRun says what would be removed and removes nothing (it takes
	// the lock all the same, so the answer is what a real run would do).
	DryRun bool
	// StaleAfter is how long an upload (releases/.incoming-*) must have
	// been abandoned before it is removed (default
	// release.DefaultStaleAfter).
	StaleAfter time.Duration
	// BreakLockAfter breaks a deploy lock older than this (a dead
	// deploy's); 0 never.
	BreakLockAfter time.Duration
	// Parallel is the number of hosts worked on at once (<=0: all).
	Parallel int
	// Who, Run and PID are written into the deploy lock: user@machine,
	// the Actions run URL and this process.
	Who, Run string
	PID      int
	// Clock is the time KeepFor counts back from (nil: the wall clock).
	Clock clock.Clock
}

// Result is one host's prune, as printed by --json.
type Result struct {
	Host    string         `json:"host"`
	Removed []string       `json:"removed"`
	Kept    []release.Kept `json:"kept"`
	Freed   int64          `json:"freed_bytes"`
	Stale   int            `json:"stale_uploads_removed"`
	DryRun  bool           `json:"dry_run"`
	Err     error          `json:"-"`
	Error   string         `json:"error,omitempty"`
}

// Run prunes every target under layout, o.Parallel at a time, and returns
// every host's result in the order of targets. The error says how many
// hosts failed and why; the others are pruned all the same.
func Run(ctx context.Context, conn Connector, targets []inventory.Target, layout release.Layout, o Options) ([]Result, error) {
	rs := fleet.OnHosts(ctx, conn, targets, o.Parallel, func(ctx context.Context, _ int, h remote.Host) (Result, error) {
		return Host(ctx, layout, h, o)
	})
	out := make([]Result, len(rs))
	var failed []error
	for i, r := range rs {
		out[i] = r.Value
		out[i].Host = r.Target.String()
		if r.Err != nil {
			out[i].Err, out[i].Error = r.Err, r.Err.Error()
			failed = append(failed, r.Err)
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("prune failed on %d of %d hosts: %w", len(failed), len(rs), errors.Join(failed...))
	}
	return out, nil
}

// Host prunes one host under its deploy lock: it reads what the host holds
// and which releases processes run in, removes what release.PlanPrune
// gives up, then the stale uploads. Its result says what was removed even
// when a later part fails.
func Host(ctx context.Context, l release.Layout, h remote.Host, o Options) (r Result, err error) {
	r = Result{DryRun: o.DryRun, Removed: []string{}}
	// A dry run writes nothing at all, not even the lock (which would
	// create <path>/.next-deploy on a path that does not exist); what it
	// lists may change under a concurrent deploy, which is what "dry" means.
	if !o.DryRun {
		lock, err := l.Acquire(ctx, h, o.Who, o.Run, o.PID, o.BreakLockAfter)
		if err != nil {
			return r, err
		}
		defer func() {
			if uerr := lock.Unlock(ctx); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}()
	}
	st, err := l.State(ctx, h)
	if err != nil {
		return r, err
	}
	inUse, err := l.InUse(ctx, h)
	if err != nil {
		return r, err
	}
	po := release.PruneOptions{Keep: o.Keep, KeepFor: o.KeepFor, Now: clock.Or(o.Clock).Now()}
	if o.Release != "" {
		po.Protect = []string{o.Release}
	}
	plan := release.PlanPrune(st, inUse, po)
	r.Kept, r.Freed = plan.Keep, plan.Freed
	if o.DryRun {
		r.Removed = append(r.Removed, plan.Remove...)
		return r, nil
	}
	if err := l.Remove(ctx, h, plan.Remove); err != nil {
		return r, fmt.Errorf("%w: run prune again; what is left is complete", err)
	}
	r.Removed = append(r.Removed, plan.Remove...)
	if r.Stale, err = l.CleanStale(ctx, h, staleAfter(o.StaleAfter)); err != nil {
		return r, err
	}
	return r, nil
}

// staleAfter is d, or the default for 0.
func staleAfter(d time.Duration) time.Duration {
	if d <= 0 {
		return release.DefaultStaleAfter
	}
	return d
}

// Removed is every release removed on some host, once each, in the order
// the hosts and their removals came.
func Removed(rs []Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		for _, id := range r.Removed {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
