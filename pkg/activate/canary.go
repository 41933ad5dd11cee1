package activate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
)

// A canary is the first batch of a rollout, watched before the rest is
// touched: its hosts are switched as one batch, then for Canary.Time they
// must keep passing the health gate, their workers must not restart, and
// the new release must answer no 5xx. Anything else is a bad canary: its
// hosts go back (as a failed host does, by the failure mode) and no other
// host is touched.
//
// The 5xx come from the app's own counters: the drain preload every
// worker loads counts each answer by status class (pm2.Proc.Answers, in
// its memory report). That is real traffic on every route, through
// whatever balancer sends users to the canary, not a list of URLs someone
// thought to probe. Its limits: a canary nobody sends traffic to shows
// no 5xx (the health gate still runs every look), and the counts are read
// at the report's pace (a second), so the last second of the window may
// be counted at the next look or not at all.

// Canary tunes the canary batch.
type Canary struct {
	// Hosts is how many hosts go first (0: no canary).
	Hosts int
	// Time is how long they are watched once all passed the health gate.
	Time time.Duration
	// Every is the pause between two looks (default DefaultCanaryEvery).
	Every time.Duration
}

// DefaultCanaryEvery is the pace of a canary's looks.
const DefaultCanaryEvery = time.Second

// Tally is what a host's app answered so far, as its workers count it.
type Tally struct {
	// Answers and ServerErrors are the worker's answers, and its 5xx, by
	// pid: counted since the worker started.
	Answers, ServerErrors map[int]int64
	// Restarts are pm2's restart counts by worker (pm_id).
	Restarts map[string]int
	// Counted is false when no worker counts its answers (no preload, or
	// its report turned off).
	Counted bool
}

// Watcher is what a canary needs of the Ops besides the health gate:
// Real has it.
type Watcher[A any] interface {
	// Tally reads the counts of the host's app (app as Inspect found it).
	Tally(ctx context.Context, h Host, app A) (Tally, error)
}

// seen is what a canary host did in the window so far.
type seen struct {
	answers, errors5xx int64
	restarts           int
	counted            bool
}

func (s seen) String() string {
	if !s.counted {
		return fmt.Sprintf("%d restarts (its workers count no answers: is the drain preload loaded?)", s.restarts)
	}
	return fmt.Sprintf("%d of %d answers 5xx, %d restarts", s.errors5xx, s.answers, s.restarts)
}

func (s seen) bad() bool { return s.errors5xx > 0 || s.restarts > 0 }

// since is what happened between base and now.
func since(base, now Tally) seen {
	s := seen{counted: now.Counted}
	for pid, n := range now.Answers {
		s.answers += n - base.Answers[pid]
	}
	for pid, n := range now.ServerErrors {
		s.errors5xx += n - base.ServerErrors[pid]
	}
	for k, n := range now.Restarts {
		if b, ok := base.Restarts[k]; ok && n > b {
			s.restarts += n - b
		}
	}
	return s
}

// canary runs the canary batch, if any: it returns how many hosts it
// took (the rest go by batch), the ones that ended switched, and an error
// when the rollout must stop.
func (r *roller[A]) canary(ctx context.Context, plans []*plan[A]) (int, []*plan[A], error) {
	c := r.o.Canary
	if c.Hosts <= 0 || len(plans) == 0 {
		return 0, nil, nil
	}
	w, ok := any(r.ops).(Watcher[A])
	if !ok {
		return 0, nil, fmt.Errorf("%s: a canary needs host steps that count answers (activate.Watcher)", r.o.Action)
	}
	batch := plans[:min(c.Hosts, len(plans))]
	r.batch(ctx, batch)
	var switched []*plan[A]
	for _, p := range batch {
		if p.res.Outcome == Switched {
			switched = append(switched, p)
		}
	}
	if failed := failures(batch); len(failed) > 0 {
		return len(batch), switched, r.stop(ctx, failed, switched)
	}
	if len(switched) == 0 {
		return len(batch), nil, nil // already on the release: nothing new to watch
	}
	bad, err := r.watch(ctx, w, switched)
	if err != nil || len(bad) == 0 {
		return len(batch), switched, err
	}
	return len(batch), switched, r.badCanary(ctx, bad, switched, len(plans)-len(batch))
}

// watch looks at the canary hosts every c.Every for c.Time and returns
// the ones that went bad (each with its error set), at the first look
// that finds any.
func (r *roller[A]) watch(ctx context.Context, w Watcher[A], ps []*plan[A]) ([]*plan[A], error) {
	c, clk := r.o.Canary, r.o.Clock
	every := c.Every
	if every <= 0 {
		every = DefaultCanaryEvery
	}
	for _, p := range ps {
		r.o.Progress(p.h.Name(), "canary: watching %s for %s (health, restarts, 5xx answers)", p.res.To, c.Time)
	}
	base := make([]*Tally, len(ps))
	start := clk.Now()
	end := start.Add(c.Time)
	for n := 0; ; n++ {
		last := !clk.Now().Before(end)
		// A line every ten looks, so a long window shows progress.
		say := last || n%10 == 0 && n > 0
		if bad := r.look(ctx, w, ps, base, say, clk.Now().Sub(start)); len(bad) > 0 {
			return bad, nil
		}
		if last {
			return nil, nil
		}
		if err := clk.Sleep(ctx, min(every, end.Sub(clk.Now()))); err != nil {
			return nil, fmt.Errorf("%s interrupted while watching the canary %s: %w; it stays on the new release, the other hosts were not touched", r.o.Action, summary(ps), err)
		}
	}
}

// look reads every canary host once, at into the window: its counts
// (the first look is the base the others count from) and the health
// gate; with say, a progress line per good host. It returns the hosts
// that are bad, with their error set.
func (r *roller[A]) look(ctx context.Context, w Watcher[A], ps []*plan[A], base []*Tally, say bool, at time.Duration) []*plan[A] {
	results := fleet.Each(ctx, targetsOf(ps), 0, func(ctx context.Context, i int, _ inventory.Target) (seen, error) {
		p := ps[i]
		t, err := w.Tally(ctx, p.h, p.app)
		if err != nil {
			return seen{}, fmt.Errorf("read the app's counts: %w", err)
		}
		if base[i] == nil {
			base[i] = &t
		}
		s := since(*base[i], t)
		if s.bad() {
			return s, errors.New(s.String())
		}
		if err := r.ops.Check(ctx, p.h, p.app, p.res.To); err != nil {
			return s, fmt.Errorf("health check: %w", err)
		}
		return s, nil
	})
	var bad []*plan[A]
	for i, x := range results {
		p := ps[i]
		if x.Err != nil {
			p.res.Outcome = Failed
			p.res.Err = fmt.Errorf("%s %s on %s: canary: %w", r.o.Action, p.res.To, p.h.Name(), x.Err)
			p.res.Error = p.res.Err.Error()
			bad = append(bad, p)
		} else if say {
			r.o.Progress(p.h.Name(), "canary: %s, healthy (%s of %s)", x.Value, at.Round(time.Second), r.o.Canary.Time)
		}
	}
	return bad
}

// badCanary sends the bad canary hosts back (unless the mode is Stop)
// and stops the rollout the way a failed batch does; rest hosts were not
// touched.
func (r *roller[A]) badCanary(ctx context.Context, bad, switched []*plan[A], rest int) error {
	var good []*plan[A]
	for _, p := range switched {
		if p.res.Outcome == Switched {
			good = append(good, p)
		}
	}
	if r.o.OnFailure != Stop && ctx.Err() == nil {
		r.each(ctx, bad, func(ctx context.Context, p *plan[A]) { r.back(ctx, p) })
	}
	err := r.stop(ctx, bad, good)
	return fmt.Errorf("bad canary %s: the other %d hosts were not touched: %w", summary(bad), rest, err)
}

var _ Watcher[*App] = (*Real)(nil)

// Tally implements Watcher: the drain preload's counts of the app's
// workers, and pm2's restarts.
func (r *Real) Tally(ctx context.Context, h Host, a *App) (Tally, error) {
	ps, err := r.PM2.StatusMemory(ctx, h)
	if err != nil {
		return Tally{}, err
	}
	t := Tally{Answers: map[int]int64{}, ServerErrors: map[int]int64{}, Restarts: map[string]int{}}
	for _, p := range a.site.Workers(ps) {
		t.Restarts[p.Key()] = p.Restarts
		if p.Answers != nil {
			t.Counted = true
			t.Answers[p.PID] = p.Answers.Total()
			t.ServerErrors[p.PID] = p.Answers.ServerErrors()
		}
	}
	return t, nil
}
