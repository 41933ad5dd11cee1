package activate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/release"
)

// Outcome is how a host ended a rollout.
type Outcome string

// Outcomes.
const (
	Switched   Outcome = "switched"    // now on the target, healthy
	Unchanged  Outcome = "unchanged"   // was already on the target, healthy
	RolledBack Outcome = "rolled back" // switched, then back on its previous release
	Failed     Outcome = "failed"      // failed; see Current for where it is
	NotStarted Outcome = "not started" // the rollout stopped before this host
	Refused    Outcome = "refused"     // the preflight failed: nothing done anywhere
)

// HostResult is one host's part of a rollout.
type HostResult struct {
	Host string `json:"host"`
	// From is the release that was current before; To the target.
	From    string  `json:"from"`
	To      string  `json:"to"`
	Outcome Outcome `json:"outcome"`
	// Current is where current points at the end, as far as we know.
	Current string        `json:"current"`
	Seconds float64       `json:"seconds"`
	Error   string        `json:"error,omitempty"`
	Elapsed time.Duration `json:"-"`
	Err     error         `json:"-"`

	// OldStatic is whether the release left still has its static files
	// served through the host's front, checked after the switch.
	OldStatic *nginx.Static `json:"old_static,omitempty"`
}

// Report is a rollout's outcome.
type Report struct {
	Action string       `json:"action"`
	Hosts  []HostResult `json:"hosts"`
	// Err is nil when every host ended switched or unchanged.
	Err error `json:"-"`
}

// Choose picks the release a host goes to, from its state: the release
// being activated, or for a rollback the previous one.
type Choose func(st *release.State) (string, error)

// plan is one host in a rollout; app is what Ops.Inspect learned of it.
type plan[A any] struct {
	h    Host
	st   *release.State
	app  A
	lock Unlocker
	res  *HostResult
}

// Run rolls hosts over to the release choose picks for each, in batches.
func Run[A any](ctx context.Context, ops Ops[A], hosts []Host, choose Choose, o Options) *Report {
	o.defaults()
	rep := &Report{Action: o.Action, Hosts: make([]HostResult, len(hosts))}
	plans := make([]*plan[A], len(hosts))
	for i, h := range hosts {
		rep.Hosts[i] = HostResult{Host: h.Name(), Outcome: NotStarted}
		plans[i] = &plan[A]{h: h, res: &rep.Hosts[i]}
	}
	defer finish(ctx, ops, plans, rep)
	if err := preflight(ctx, ops, plans, choose, o); err != nil {
		rep.Err = err
		return rep
	}
	if err := beforeActivate(ctx, plans, o); err != nil {
		rep.Err = err
		return rep
	}
	r := &roller[A]{ops: ops, o: o}
	first, switched, err := r.canary(ctx, plans)
	if err != nil {
		rep.Err = err
		return rep
	}
	for start := first; start < len(plans); start += o.Batch {
		batch := plans[start:min(start+o.Batch, len(plans))]
		r.batch(ctx, batch)
		failed := failures(batch)
		for _, p := range batch {
			if p.res.Outcome == Switched {
				switched = append(switched, p)
			}
		}
		if len(failed) > 0 {
			rep.Err = r.stop(ctx, failed, switched)
			return rep
		}
		if start+o.Batch < len(plans) && o.Pause > 0 {
			if err := o.Clock.Sleep(ctx, o.Pause); err != nil {
				rep.Err = fmt.Errorf("%s interrupted between batches: %w; the hosts not reached are on their previous release", o.Action, err)
				return rep
			}
		}
	}
	return rep
}

// preflight takes every host's lock, reads its state, checks that it
// holds its target complete (the barrier) and inspects its app side,
// o.Parallel hosts at a time. Any problem refuses the whole rollout,
// touching nothing.
func preflight[A any](ctx context.Context, ops Ops[A], plans []*plan[A], choose Choose, o Options) error {
	// The first host's lock is taken alone, before any other: two runs
	// started together meet at it, and one of them gets the whole fleet.
	// Taken all at once, each run tended to win some hosts and both were
	// refused (found by test/e2e TestFaultTwoDeploysRace). The rest of
	// its preflight runs with the other hosts'.
	var first error
	if len(plans) > 0 {
		first = plans[0].takeLock(ctx, ops)
	}
	var locked *release.LockedError
	results := fleet.Each(ctx, targetsOf(plans), o.Parallel, func(ctx context.Context, i int, _ inventory.Target) (struct{}, error) {
		switch {
		case i == 0 && first != nil:
			return struct{}{}, first
		case i == 0:
			return struct{}{}, plans[0].check(ctx, ops, choose)
		case errors.As(first, &locked):
			return struct{}{}, fmt.Errorf("%s not checked: %s is locked by another run", plans[i].h.Name(), plans[0].h.Name())
		}
		if err := plans[i].takeLock(ctx, ops); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, plans[i].check(ctx, ops, choose)
	})
	var errs []error
	for i, r := range results {
		if r.Err != nil {
			p := plans[i]
			p.res.Err, p.res.Error, p.res.Outcome = r.Err, r.Err.Error(), Refused
			errs = append(errs, r.Err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s refused, no host was changed: %w", o.Action, errors.Join(errs...))
}

// takeLock takes the host's deploy lock: its preflight (check) reads the
// state under it, so current and the history (a rollback's target)
// cannot change between the read and the switch.
func (p *plan[A]) takeLock(ctx context.Context, ops Ops[A]) error {
	lock, err := ops.Lock(ctx, p.h)
	if err != nil {
		return err
	}
	p.lock = lock
	return nil
}

// check is the preflight of one host, under its lock: its state, the
// release it goes to, complete, and its app side.
func (p *plan[A]) check(ctx context.Context, ops Ops[A], choose Choose) error {
	st, err := ops.State(ctx, p.h)
	if err != nil {
		return err
	}
	p.st = st
	p.res.From, p.res.Current = st.Current, st.Current
	to, err := choose(st)
	if err != nil {
		return fmt.Errorf("%s: %w", p.h.Name(), err)
	}
	p.res.To = to
	if r := st.Find(to); r == nil || !r.Complete {
		what := "does not hold release " + to
		if r != nil {
			what = "holds release " + to + " incomplete (no manifest)"
		}
		return fmt.Errorf("%s %s: deliver it to every host first (next-deploy deliver), then activate", p.h.Name(), what)
	}
	if p.app, err = ops.Inspect(ctx, p.h, st, to); err != nil {
		return fmt.Errorf("%s: %w", p.h.Name(), err)
	}
	return nil
}

func failures[A any](batch []*plan[A]) []*plan[A] {
	var out []*plan[A]
	for _, p := range batch {
		if p.res.Err != nil {
			out = append(out, p)
		}
	}
	return out
}

// summary names hosts by outcome for messages.
func summary[A any](ps []*plan[A]) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.h.Name()
	}
	return strings.Join(names, ", ")
}

// targetsOf are the plans' hosts' entries, for fleet.Each.
func targetsOf[A any](ps []*plan[A]) []inventory.Target {
	ts := make([]inventory.Target, len(ps))
	for i, p := range ps {
		ts[i] = p.h.Target
	}
	return ts
}
