package activate

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// finish settles every host reached (when ops is a Settler) and
// releases its deploy lock, the hosts at once: each lock goes as soon as
// what the host's reload left running is done. It runs even when ctx is
// cancelled (Unlock runs on a context of its own). A failed Settle marks
// the host's result and the report: the host serves, but what pm2
// starts at boot may be the release before.
func finish[A any](ctx context.Context, ops Ops[A], plans []*plan[A], rep *Report) {
	s, _ := any(ops).(Settler[A])
	settled, unlocked := make([]error, len(plans)), make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		if p.lock == nil {
			continue // not reached: nothing ran, nothing to release
		}
		wg.Go(func() {
			if s != nil {
				settled[i] = s.Settle(ctx, p.h, p.app)
			}
			unlocked[i] = p.lock.Unlock(ctx)
		})
	}
	wg.Wait()
	var failed, stays []error
	for i, p := range plans {
		if err := settled[i]; err != nil {
			err = fmt.Errorf("%s on %s, after the switch: %w; the host serves, but pm2 may start an older process list at boot: run pm2 save there", rep.Action, p.h.Name(), err)
			p.res.Err = errors.Join(p.res.Err, err)
			p.res.Error = p.res.Err.Error()
			failed = append(failed, err)
		}
		if err := unlocked[i]; err != nil {
			stays = append(stays, fmt.Errorf("%s: %w; its deploy lock stays until a later run breaks it (--break-lock-after, once the host is back)", p.h.Name(), err))
		}
	}
	if len(failed) > 0 {
		rep.Err = errors.Join(rep.Err, errors.Join(failed...))
	}
	if len(stays) > 0 {
		rep.Err = errors.Join(rep.Err, fmt.Errorf("release the deploy lock: %w", errors.Join(stays...)))
	}
}
