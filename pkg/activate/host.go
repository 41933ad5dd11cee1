package activate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
)

// roller runs the steps on hosts.
type roller[A any] struct {
	ops Ops[A]
	o   Options
}

// each runs fn on every host of ps at once (a batch is the bound) and
// keeps each host's error in its result: fn's, or why it did not start
// (the run was cancelled).
func (r *roller[A]) each(ctx context.Context, ps []*plan[A], fn func(ctx context.Context, p *plan[A])) {
	results := fleet.Each(ctx, targetsOf(ps), 0, func(ctx context.Context, i int, _ inventory.Target) (struct{}, error) {
		fn(ctx, ps[i])
		return struct{}{}, ps[i].res.Err
	})
	for i, x := range results {
		p := ps[i]
		if x.Err != nil && p.res.Err == nil {
			p.res.Err = fmt.Errorf("%s %s on %s: not started: %w", r.o.Action, p.res.To, p.h.Name(), x.Err)
		}
		if p.res.Err != nil {
			p.res.Error = p.res.Err.Error()
		}
	}
}

// batch switches the hosts of one batch at once.
func (r *roller[A]) batch(ctx context.Context, batch []*plan[A]) {
	r.each(ctx, batch, func(ctx context.Context, p *plan[A]) {
		start := r.o.Clock.Now()
		r.host(ctx, p)
		p.res.Elapsed = r.o.Clock.Now().Sub(start)
		p.res.Seconds = p.res.Elapsed.Round(time.Millisecond).Seconds()
	})
}

// host takes one host to its target. On failure after the switch, it
// goes back (unless the mode is Stop).
func (r *roller[A]) host(ctx context.Context, p *plan[A]) {
	name, from, to := p.h.Name(), p.res.From, p.res.To
	step := func(format string, a ...any) { r.o.Progress(name, format, a...) }
	if from == to {
		step("%s is already current: health check", to)
		if err := r.ops.Check(ctx, p.h, p.app, to); err == nil {
			p.res.Outcome = Unchanged
			return
		}
		step("%s is current but does not serve: reloading", to)
	}
	fail := func(stage string, err error) {
		p.res.Outcome = Failed
		p.res.Err = fmt.Errorf("%s %s on %s: %s: %w", r.o.Action, to, name, stage, err)
	}
	step("preparing the app")
	if err := r.ops.Prepare(ctx, p.h, p.app); err != nil {
		fail("prepare the app (nothing switched)", err)
		return
	}
	if from != to {
		step("switching current %s -> %s", orNone(from), to)
		if err := r.ops.Record(ctx, p.h, r.entry(r.o.Action, to, from)); err != nil {
			fail("record history (nothing switched)", err)
			return
		}
		if err := r.ops.Switch(ctx, p.h, to); err != nil {
			fail("switch current (nothing switched)", err)
			return
		}
		p.res.Current = to
	}
	step("reloading pm2")
	err := r.ops.Reload(ctx, p.h, p.app, to, from)
	stage := "reload pm2"
	if err == nil {
		step("health check")
		err, stage = r.ops.Check(ctx, p.h, p.app, to), "health check"
	}
	if err == nil {
		err, stage = r.afterActivate(ctx, p), "after the health check"
	}
	if err == nil {
		p.res.Outcome = Switched
		if from != "" && from != to {
			p.res.OldStatic = r.ops.OldStatic(ctx, p.h, p.app, from)
		}
		return
	}
	fail(stage, err)
	if from == to || ctx.Err() != nil || r.o.OnFailure == Stop {
		return
	}
	r.back(ctx, p)
}

// back returns a switched host to the release it came from: switch,
// record, reload, health check.
func (r *roller[A]) back(ctx context.Context, p *plan[A]) {
	name, from := p.h.Name(), p.res.From
	if from == "" {
		p.res.Err = fmt.Errorf("%w; there is no previous release to go back to: deliver and activate a working one", p.res.Err)
		if err := r.ops.Restore(ctx, p.h, p.app, ""); err != nil {
			p.res.Err = fmt.Errorf("%w; undoing its app side failed too: %w", p.res.Err, err)
		}
		return
	}
	r.o.Progress(name, "going back to %s", from)
	err := r.ops.Switch(ctx, p.h, from)
	if err == nil {
		p.res.Current = from
		// A rollback entry from the failed release marks it: a later
		// rollback never picks it, and previous stays what it was.
		err = r.ops.Record(ctx, p.h, r.entry(ActionRollback, from, p.res.To))
	}
	if err == nil {
		err = r.ops.Restore(ctx, p.h, p.app, from)
	}
	if err == nil {
		err = r.ops.Reload(ctx, p.h, p.app, from, "")
	}
	if err == nil {
		err = r.ops.Check(ctx, p.h, p.app, from)
	}
	if err != nil {
		p.res.Outcome = Failed
		back := fmt.Errorf("going back to %s failed too: %w: fix the host by hand (next-deploy rollback --to %s)", from, err, from)
		if p.res.Err == nil {
			p.res.Err = back
		} else {
			p.res.Err = errors.Join(p.res.Err, back)
		}
		return
	}
	p.res.Outcome = RolledBack
}

// stop ends a rollout after failures: with RollbackAll, every host that
// passed goes back too, in batches.
func (r *roller[A]) stop(ctx context.Context, failed, switched []*plan[A]) error {
	err := fmt.Errorf("%s stopped: %w", r.o.Action, joinErrs(failed))
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w; interrupted: hosts may be mid-switch, run it again or roll back", err)
	case r.o.OnFailure == Stop:
		return fmt.Errorf("%w; --on-failure stop: %s left as it is for inspection", err, summary(failed))
	case r.o.OnFailure == RollbackHost || len(switched) == 0:
		if len(switched) > 0 {
			return fmt.Errorf("%w; --on-failure rollback-host: %s stay on the new release", err, summary(switched))
		}
		return err
	}
	for start := 0; start < len(switched); start += r.o.Batch {
		r.each(ctx, switched[start:min(start+r.o.Batch, len(switched))], func(ctx context.Context, p *plan[A]) {
			p.res.Err = nil
			r.back(ctx, p)
		})
	}
	if bad := failures(switched); len(bad) > 0 {
		return fmt.Errorf("%w; rolling back the other hosts failed: %w", err, joinErrs(bad))
	}
	return fmt.Errorf("%w; --on-failure rollback-all: %s went back too", err, summary(switched))
}

func (r *roller[A]) entry(action, to, from string) release.Entry {
	return release.Entry{Time: r.o.Clock.Now().UTC(), Action: action, Release: to, From: from, Who: r.o.Who, Run: r.o.Run}
}

func joinErrs[A any](ps []*plan[A]) error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p.res.Err
	}
	return errors.Join(errs...)
}

func orNone(id string) string {
	if id == "" {
		return "(none)"
	}
	return id
}
