package activate

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// looksCounting counts the looker programs started on a host.
type looksCounting struct {
	remote.Host
	mu    sync.Mutex
	looks int
}

func (h *looksCounting) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	if strings.Contains(c.Script, `" looks`) {
		h.mu.Lock()
		h.looks++
		h.mu.Unlock()
	}
	return h.Host.Run(ctx, c)
}

func (h *looksCounting) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.looks
}

// Issue 15 item 3: the looker a host's reload uses is started by Lock
// (the preflight, every host at once, while the state is read), its
// first look is the process list Inspect needs, and Prepare, in the
// host's batch, reuses it instead of starting a program of its own.
func TestLookerStartedByLockUsedByInspectAndPrepare(t *testing.T) {
	stubPM2(t, "[]")
	ctx := context.Background()
	r, h, root := ecoSite(t, "", nil, nil)
	r.Ecosystem.Root = root
	counting := &looksCounting{Host: h.Host}
	h.Host = counting
	lock, err := r.Lock(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock(ctx)
	// The program starts in the background: wait for it.
	for end := time.Now().Add(5 * time.Second); counting.count() == 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := counting.count(); got != 1 {
		t.Errorf("looker programs after Lock: %d, want 1", got)
	}
	a, err := r.Inspect(ctx, h, twoReleases, "r2")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Settle(ctx, h, a)
	if got := counting.count(); got != 1 {
		t.Errorf("looker programs after Inspect: %d, want 1", got)
	}
	if err := r.Prepare(ctx, h, a); err != nil {
		t.Fatal(err)
	}
	if got := counting.count(); got != 1 {
		t.Errorf("looker programs after Prepare: %d, want 1 (Inspect's)", got)
	}
}

// A looker Lock started for an Inspect that never ran (the preflight
// stopped first) is ended by Settle: no program is left on the host.
func TestLookerOfAHostNeverInspectedEndsAtSettle(t *testing.T) {
	stubPM2(t, "[]")
	ctx := context.Background()
	r, h, _ := ecoSite(t, "", nil, nil)
	lock, err := r.Lock(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock(ctx)
	if r.early.m[h.Name()] == nil {
		t.Fatal("Lock started no looker")
	}
	if err := r.Settle(ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	if l := r.early.m[h.Name()]; l != nil {
		t.Errorf("a looker is left after Settle: %v", l)
	}
}
