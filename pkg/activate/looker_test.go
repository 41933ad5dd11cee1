package activate

import (
	"context"
	"strings"
	"sync"
	"testing"

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

// Issue 15 item 3: the looker a host's reload uses is started by Inspect
// (the preflight, every host at once; its first look is the process list
// Inspect needs), and Prepare, in the host's batch, reuses it instead of
// starting a program of its own.
func TestLookerStartedByInspectUsedByPrepare(t *testing.T) {
	stubPM2(t, "[]")
	ctx := context.Background()
	r, h, root := ecoSite(t, "", nil, nil)
	r.Ecosystem.Root = root
	counting := &looksCounting{Host: h.Host}
	h.Host = counting
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
