package activate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// settling is fakeOps with a Settler: what each host's Settle found, and
// the hosts whose Settle fails.
type settling struct {
	*fakeOps
	fail map[string]bool
}

var _ Settler[string] = settling{}

func (s settling) Settle(_ context.Context, h Host, app string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv := s.s(h)
	s.logf("%s settle (locked %v, unlocked %v)", h.Name(), srv.locked, srv.unlocked)
	if s.fail[h.Name()] {
		return errors.New("pm2 save: disk full")
	}
	return nil
}

// Issue 15 item 3: what a host's reload leaves running (pm2 save) is
// waited for once, after the last batch and before the locks go, not in
// each batch; a failure there is the host's and the report's.
func TestSettleAfterTheLastBatchBeforeUnlock(t *testing.T) {
	f, hosts := newFleet(3, "v1", "v1", "v2")
	ops := settling{fakeOps: f, fail: map[string]bool{"h1": true}}
	rep := Run(context.Background(), ops, hosts, activateTo("v2"), Options{Batch: 1})
	lastReload, firstSettle := -1, len(f.log)
	var settled []string
	for i, l := range f.log {
		switch {
		case strings.Contains(l, " reload "):
			lastReload = i
		case strings.Contains(l, " settle "):
			firstSettle = min(firstSettle, i)
			settled = append(settled, l)
		}
	}
	if lastReload > firstSettle {
		t.Errorf("a host settled before the last batch's reload: %v", f.log)
	}
	slices.Sort(settled) // the hosts settle at once
	var want []string
	for _, h := range hosts {
		want = append(want, fmt.Sprintf("%s settle (locked true, unlocked false)", h.Name()))
	}
	if strings.Join(settled, "\n") != strings.Join(want, "\n") {
		t.Errorf("settled:\n%s\nwant:\n%s", strings.Join(settled, "\n"), strings.Join(want, "\n"))
	}
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "h1, after the switch: pm2 save: disk full") {
		t.Errorf("report error = %v, want h1's failed save", rep.Err)
	}
	for i, h := range rep.Hosts {
		if got, want := h.Error != "", i == 1; got != want || h.Outcome != Switched {
			t.Errorf("%s: outcome %s, error %q; want switched, error only on h1", h.Host, h.Outcome, h.Error)
		}
	}
}
