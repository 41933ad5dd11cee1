package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// Two activations at once: the second refuses (exit 1, naming the holder)
// without touching any host; the first, killed with SIGTERM mid-rollout,
// leaves no stale lock, and the next activation goes through.
func TestConcurrentActivationAndSIGTERMLeaveNoLock(t *testing.T) {
	b := actBed(t)
	s := actTiny{}
	for _, id := range []string{"l1", "l2"} {
		s.ship(t, b, id, false)
	}
	if status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "l1"}, actFlags()...)...); status != 0 {
		t.Fatalf("activate l1: exit %d\n%s\n%s", status, out, errOut)
	}
	// The first run switches h0, then pauses before h1, holding both locks.
	first := actStart(t, b, append([]string{"activate", "--release", "l2", "--pause", "10m"}, actFlags()...)...)
	waitFor(t, "the first run to switch h0 and pause", 2*time.Minute, func() bool {
		return actCurrent(t, b, b.Hosts[0]) == "l2" && healthy(t, b.Hosts[0], "l2") && locked(t, b)
	})
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "l1"}, actFlags()...)...)
	if status != 1 || !strings.Contains(errOut, "deploy lock") || !strings.Contains(errOut, "held by") {
		t.Errorf("second activation: exit %d, want 1 naming the lock holder\n%s\n%s", status, out, errOut)
	}
	if cur := actCurrent(t, b, b.Hosts[1]); cur != "l1" {
		t.Errorf("the refused run changed h1: current %s", cur)
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := first.wait(t, time.Minute); st == 0 {
		t.Errorf("a run killed mid-rollout exited 0\n%s", first.stderr.String())
	}
	if locked(t, b) {
		t.Errorf("a lock is left after SIGTERM\n%s", first.stderr.String())
	}
	if status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "l2"}, actFlags()...)...); status != 0 {
		t.Fatalf("activation after the killed one: exit %d\n%s\n%s", status, out, errOut)
	}
	servesEverywhere(t, b, "l2")
}

// locked reports whether any host's deploy lock exists.
func locked(t *testing.T, b *bed.Bed) bool {
	t.Helper()
	for _, h := range b.Hosts {
		if strings.TrimSpace(b.RunAs(t, h, `test -e ~/app/.next-deploy/lock && echo yes || true`)) == "yes" {
			return true
		}
	}
	return false
}

func healthy(t *testing.T, h *bed.Host, id string) bool {
	t.Helper()
	code, body := actHostGet(t, h, "/")
	return code == 200 && strings.Contains(body, "/"+id+"/_next/")
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
