package activate

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// Regression guard: a lock that could not be taken must come back as a
// nil Unlocker, not a typed nil that the rollout would try to unlock
// (it crashed the second of two concurrent activations).
func TestRealLockHeldIsNilUnlocker(t *testing.T) {
	r := &Real{Layout: release.Layout{Root: filepath.Join(t.TempDir(), "app")}, Who: "a"}
	h := Host{Host: remote.NewLocal(), Target: inventory.Target{Local: true}}
	ctx := context.Background()
	first, err := r.Lock(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock(ctx)
	second, err := r.Lock(ctx, h)
	if err == nil || second != nil {
		t.Fatalf("second Lock = %#v, %v; want nil and the lock error", second, err)
	}
}
