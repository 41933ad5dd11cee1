// Package activate owns the rolling, health-gated switch of a fleet to a
// release, used by activate and by rollback: preflight on every host (it
// holds the release, the app side is sound, the deploy lock is ours)
// before anything changes, then batch by batch: record the history,
// switch current, reload pm2 until the workers really run the release,
// and the health gate. A host that fails goes back to its previous
// release; the rollout stops and the failure mode decides the hosts
// already switched. The steps on one host are behind Ops, so the rolling
// logic is tested with fakes and runs for real with release, pm2 and
// health (Real). Connect gives the hosts, from the inventory.
package activate

import (
	"context"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/release"
)

// Unlocker releases a deploy lock (*release.Lock); it must work on a
// cancelled context.
type Unlocker interface {
	Unlock(ctx context.Context) error
}

// Ops are the steps on one host that a rollout composes. A is what
// Inspect learns about a host's app side, handed back to Prepare and
// Reload of the same host.
type Ops[A any] interface {
	// State reads what the host holds and which release is current.
	State(ctx context.Context, h Host) (*release.State, error)
	// Lock takes the host's deploy lock.
	Lock(ctx context.Context, h Host) (Unlocker, error)
	// Inspect checks, changing nothing, that the app side can be switched
	// to release to.
	Inspect(ctx context.Context, h Host, st *release.State, to string) (A, error)
	// Prepare readies the app side before the switch (files, a pinned
	// app replaced).
	Prepare(ctx context.Context, h Host, app A) error
	// Record appends to the host's activation history.
	Record(ctx context.Context, h Host, e release.Entry) error
	// Switch points current at id.
	Switch(ctx context.Context, h Host, id string) error
	// Reload makes the workers run release to; from ("" for none) is
	// where current may be switched back if to crash-loops at start.
	Reload(ctx context.Context, h Host, app A, to, from string) error
	// Check is the health gate: release id serves on the host.
	Check(ctx context.Context, h Host, app A, id string) error
	// Restore puts back what Prepare changed on the app side before the
	// host goes back to release to; to is "" when there is none, and what
	// Prepare started is then stopped.
	Restore(ctx context.Context, h Host, app A, to string) error
	// OldStatic checks, on a host that switched and passed, that browsers
	// holding a page of release old still get its static files; nil when
	// not checked.
	OldStatic(ctx context.Context, h Host, app A, old string) *nginx.Static
}

// Mode is what happens to the hosts already switched when one fails.
type Mode string

// Failure modes.
const (
	// RollbackAll: every host switched by this run goes back too.
	RollbackAll Mode = "rollback-all"
	// RollbackHost: only the failed host goes back; the hosts that passed
	// stay on the new release.
	RollbackHost Mode = "rollback-host"
	// Stop: stop where it is; not even the failed host is switched back
	// (to inspect it; take it out of the balancer).
	Stop Mode = "stop"
)

// ParseMode checks an --on-failure value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case RollbackAll, RollbackHost, Stop:
		return m, nil
	}
	return "", fmt.Errorf("on-failure %q: want rollback-all, rollback-host or stop", s)
}

// Actions, as recorded in the history.
const (
	ActionActivate = release.ActionActivate
	ActionRollback = release.ActionRollback
)

// Options tune a rollout.
type Options struct {
	// Action is recorded in the history: activate or rollback.
	Action string
	// Batch is the number of hosts switched at once (default 1).
	Batch int
	// Pause is the wait between two batches.
	Pause time.Duration
	// Canary, when it has hosts, is a first batch watched before the
	// rest (see canary.go).
	Canary Canary
	// OnFailure decides the hosts already switched when one fails.
	OnFailure Mode
	// Parallel bounds the preflight fan-out (0: all hosts at once).
	Parallel int
	// Who and Run are recorded in the history.
	Who, Run string
	// Progress, when set, gets a line per step of each host.
	Progress func(host, format string, a ...any)
	// Clock times the history entries and the pause between batches
	// (default: the wall clock).
	Clock clock.Clock
	// Hooks, when set, run before the first switch and on each host
	// after its health gate (hooks.go).
	Hooks Hooks
}

func (o *Options) defaults() {
	if o.Batch < 1 {
		o.Batch = 1
	}
	if o.Action == "" {
		o.Action = ActionActivate
	}
	if o.OnFailure == "" {
		o.OnFailure = RollbackAll
	}
	o.Clock = clock.Or(o.Clock)
	if o.Progress == nil {
		o.Progress = func(string, string, ...any) {}
	}
}
