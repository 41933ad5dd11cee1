package activate

import (
	"context"
	"errors"
	"fmt"
)

// Settler is implemented by Ops that leave work running behind a host's
// reload that need not hold up the rollout (Real: pm2 save, which stores
// the process list for boot; the workers already serve). Run settles
// every host once the last batch is done, or the rollout stopped, and
// before the locks are released: the work overlaps the next batches
// instead of adding to each (issue 15 item 3).
type Settler[A any] interface {
	// Settle waits for what the host's reloads left running; nil when
	// nothing was.
	Settle(ctx context.Context, h Host, app A) error
}

// settle settles every host of plans when ops is a Settler. The work is
// already running, so waiting for one host after another takes as long
// as the slowest. A failure marks the host's result and the report: the
// host serves, but what pm2 restores at boot may be the release before.
func settle[A any](ctx context.Context, ops Ops[A], plans []*plan[A], rep *Report) {
	s, ok := any(ops).(Settler[A])
	if !ok {
		return
	}
	var errs []error
	for _, p := range plans {
		if p.lock == nil {
			continue // not reached: nothing ran
		}
		if err := s.Settle(ctx, p.h, p.app); err != nil {
			err = fmt.Errorf("%s on %s, after the switch: %w; the host serves, but pm2 may start an older process list at boot: run pm2 save there", rep.Action, p.h.Name(), err)
			p.res.Err = errors.Join(p.res.Err, err)
			p.res.Error = p.res.Err.Error()
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		rep.Err = errors.Join(rep.Err, errors.Join(errs...))
	}
}
