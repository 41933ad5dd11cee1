package activate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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

// plan is one host in a rollout.
type plan struct {
	h    Host
	st   *release.State
	to   string
	app  App
	lock Unlocker
	res  *HostResult
}

// Run rolls hosts over to the release choose picks for each, in batches.
func Run(ctx context.Context, ops Ops, hosts []Host, choose Choose, o Options) *Report {
	o.defaults()
	rep := &Report{Action: o.Action, Hosts: make([]HostResult, len(hosts))}
	plans := make([]*plan, len(hosts))
	for i, h := range hosts {
		rep.Hosts[i] = HostResult{Host: h.Name(), Outcome: NotStarted}
		plans[i] = &plan{h: h, res: &rep.Hosts[i]}
	}
	defer unlockAll(ctx, plans, rep)
	if err := preflight(ctx, ops, plans, choose, o); err != nil {
		rep.Err = err
		return rep
	}
	r := &roller{ops: ops, o: o}
	var switched []*plan
	for start := 0; start < len(plans); start += o.Batch {
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
			if err := o.Sleep(ctx, o.Pause); err != nil {
				rep.Err = fmt.Errorf("%s interrupted between batches: %w; the hosts not reached are on their previous release", o.Action, err)
				return rep
			}
		}
	}
	return rep
}

// preflight reads every host's state, checks that it holds its target
// complete (the barrier), takes its lock and inspects its app side, all
// hosts at once. Any problem refuses the whole rollout, touching nothing.
func preflight(ctx context.Context, ops Ops, plans []*plan, choose Choose, o Options) error {
	sem := make(chan struct{}, max(o.Parallel, 1))
	if o.Parallel <= 0 {
		sem = make(chan struct{}, len(plans))
	}
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := p.preflight(ctx, ops, choose); err != nil {
				p.res.Err = err
				p.res.Error = err.Error()
			}
		}()
	}
	wg.Wait()
	var errs []error
	for _, p := range plans {
		if p.res.Err != nil {
			errs = append(errs, p.res.Err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	for _, p := range plans {
		if p.res.Err != nil {
			p.res.Outcome = Refused
		}
	}
	return fmt.Errorf("%s refused, no host was changed: %w", o.Action, errors.Join(errs...))
}

func (p *plan) preflight(ctx context.Context, ops Ops, choose Choose) error {
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
	lock, err := ops.Lock(ctx, p.h)
	if err != nil {
		return err
	}
	p.lock = lock
	if p.app, err = ops.Inspect(ctx, p.h, st, to); err != nil {
		return fmt.Errorf("%s: %w", p.h.Name(), err)
	}
	return nil
}

func failures(batch []*plan) []*plan {
	var out []*plan
	for _, p := range batch {
		if p.res.Err != nil {
			out = append(out, p)
		}
	}
	return out
}

// unlockAll releases every lock taken, even when ctx is cancelled
// (Unlock runs on a context of its own).
func unlockAll(ctx context.Context, plans []*plan, rep *Report) {
	var errs []error
	for _, p := range plans {
		if p.lock == nil {
			continue
		}
		if err := p.lock.Unlock(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		rep.Err = errors.Join(rep.Err, fmt.Errorf("release the deploy lock: %w", errors.Join(errs...)))
	}
}

// summary names hosts by outcome for messages.
func summary(ps []*plan) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.h.Name()
	}
	return strings.Join(names, ", ")
}
