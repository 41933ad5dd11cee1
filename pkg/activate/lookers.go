package activate

import (
	"context"
	"sync"

	"github.com/org/next-deploy/pkg/pm2"
)

// earlyLookers are the lookers Lock starts, by host, for Inspect to take
// (issue 15 item 3): the looker's program (a node process) then starts
// while the host's state is read, not after, and the preflight waits for
// the longer of the two instead of both.
type earlyLookers struct {
	mu sync.Mutex
	m  map[string]*pm2.Looker
}

// start starts h's looker; a looker of h not taken yet is closed.
func (e *earlyLookers) start(ctx context.Context, run pm2.Runner, h Host) {
	l := run.Looker(ctx, h)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]*pm2.Looker{}
	}
	if old := e.m[h.Name()]; old != nil {
		old.Close()
	}
	e.m[h.Name()] = l
}

// take returns h's looker started by start, or a new one.
func (e *earlyLookers) take(ctx context.Context, run pm2.Runner, h Host) *pm2.Looker {
	l := e.pop(h)
	if l == nil {
		l = run.Looker(ctx, h)
	}
	return l
}

// drop closes h's looker if no Inspect took it (the preflight stopped
// before it).
func (e *earlyLookers) drop(h Host) {
	if l := e.pop(h); l != nil {
		l.Close()
	}
}

// pop removes h's looker from e and returns it (nil: none).
func (e *earlyLookers) pop(h Host) *pm2.Looker {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.m[h.Name()]
	delete(e.m, h.Name())
	return l
}
