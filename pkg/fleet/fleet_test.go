package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/org/next-deploy/pkg/inventory"
)

func targets(n int) []inventory.Target {
	var ts []inventory.Target
	for i := range n {
		ts = append(ts, inventory.Target{Host: fmt.Sprintf("h%d", i), Port: 22})
	}
	return ts
}

func TestEachBoundsAndOrders(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 7)
	ts := targets(7)
	done := make(chan []Result[string])
	go func() {
		done <- Each(context.Background(), ts, 3, func(_ context.Context, _ int, tg inventory.Target) (string, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			started <- struct{}{}
			<-release
			running.Add(-1)
			if tg.Host == "h4" {
				return "", errors.New("boom")
			}
			return tg.Host, nil
		})
	}()
	// Hold the first three until they all run: an unbounded fan-out would
	// start the other four meanwhile and push the peak over 3.
	for range 3 {
		<-started
	}
	close(release)
	rs := <-done
	if p := peak.Load(); p > 3 {
		t.Errorf("peak concurrency = %d, want <= 3", p)
	}
	for i, r := range rs {
		if r.Target.Host != ts[i].Host {
			t.Errorf("result %d is for %s, want %s", i, r.Target.Host, ts[i].Host)
		}
		if (r.Err != nil) != (r.Target.Host == "h4") {
			t.Errorf("%s: err = %v", r.Target.Host, r.Err)
		}
		if r.Err == nil && r.Value != r.Target.Host {
			t.Errorf("%s: value = %q", r.Target.Host, r.Value)
		}
	}
	if f := Failed(rs); len(f) != 1 || f[0].Target.Host != "h4" {
		t.Errorf("Failed = %+v, want only h4", f)
	}
}

func TestEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	rs := Each(ctx, targets(4), 1, func(context.Context, int, inventory.Target) (int, error) {
		ran.Add(1)
		return 0, nil
	})
	// With the context already cancelled, a waiting host may or may not
	// win the race for the slot, but every host has a result.
	for _, r := range rs {
		if r.Err == nil && ran.Load() == 0 {
			t.Errorf("%s has no error and nothing ran", r.Target.Host)
		}
	}
	if len(rs) != 4 {
		t.Fatalf("%d results, want 4", len(rs))
	}
}
