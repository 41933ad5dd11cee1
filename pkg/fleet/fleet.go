// Package fleet owns fanning work out over the hosts of a deploy: a bounded
// number at a time, every host's result collected in inventory order, no
// state shared between the goroutines.
package fleet

import (
	"context"
	"sync"
	"time"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
)

// Result is what one host's work came to.
type Result[T any] struct {
	Target   inventory.Target
	Value    T
	Err      error
	Duration time.Duration
}

// Each runs fn for every target, at most parallel at a time (<=0: all at
// once), and returns the results in the order of targets. fn gets the
// target's index, so a caller can reach its own per-host values without
// sharing mutable state. It waits for every host; one failure does not
// cancel the others (a deploy step wants each host's answer in its table).
// It is the one bounded fan-out of next-deploy: steps do not start their
// own goroutines per host.
func Each[T any](ctx context.Context, targets []inventory.Target, parallel int, fn func(ctx context.Context, i int, t inventory.Target) (T, error)) []Result[T] {
	if parallel <= 0 || parallel > len(targets) {
		parallel = len(targets)
	}
	results := make([]Result[T], len(targets))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result[T]{Target: t, Err: context.Cause(ctx)}
				return
			}
			defer func() { <-sem }()
			start := time.Now()
			v, err := fn(ctx, i, t)
			results[i] = Result[T]{Target: t, Value: v, Err: err, Duration: time.Since(start)}
		}()
	}
	wg.Wait()
	return results
}

// Connector gives a connected host for a target: remote.Pool is the one
// the commands pass; tests pass fakes.
type Connector interface {
	Get(ctx context.Context, t inventory.Target) (remote.Host, error)
}

// OnHosts is Each with every target's connection: fn gets the connected
// host; a target that cannot be reached fails with the connection's error.
func OnHosts[T any](ctx context.Context, conn Connector, targets []inventory.Target, parallel int, fn func(ctx context.Context, i int, h remote.Host) (T, error)) []Result[T] {
	return Each(ctx, targets, parallel, func(ctx context.Context, i int, t inventory.Target) (T, error) {
		h, err := conn.Get(ctx, t)
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(ctx, i, h)
	})
}

// Failed returns the results that failed.
func Failed[T any](rs []Result[T]) []Result[T] {
	var out []Result[T]
	for _, r := range rs {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}
