package e2e

import (
	"strings"
	"testing"
)

// TestFaultHostDownAtPreflight: one host's sshd is stopped before a
// deliver and before an activate. Each refuses before any host is
// touched, exits 1 and names the host; the other host holds no new
// release, keeps its current, holds no lock; the apps (still running on
// both hosts) serve through the balancer without a failed request. Once
// the host is back, the same activate goes through.
func TestFaultHostDownAtPreflight(t *testing.T) {
	b := actBed(t)
	s := actTiny{}
	for _, id := range []string{"p1", "p2"} {
		s.ship(t, b, id, false)
	}
	if status, out := faultActivate(t, b, "p1"); status != 0 {
		t.Fatalf("activate p1: exit %d\n%s", status, out)
	}
	up, down := b.Hosts[0], b.Hosts[1]
	art := faultArtifact(t, "p3", nil, 0)
	load := actLoad(b, s.chunks("p1"))
	b.StopSSHD(t, down)

	status, out, errOut := actCLI(t, b, "deliver", "--artifact", art)
	t.Logf("deliver with %s down: exit %d\n%s%s", down.Name(), status, out, errOut)
	if status != 1 || !strings.Contains(out+errOut, down.Addr) || !strings.Contains(out+errOut, "nothing was sent") {
		t.Errorf("deliver with %s down: exit %d, want 1 naming %s and saying nothing was sent", down.Name(), status, down.Addr)
	}
	if got := releasesDir(t, up); strings.Join(got, ",") != "p1,p2" {
		t.Errorf("%s: releases/ = %v after a refused delivery, want p1,p2 only", up.Name(), got)
	}

	status, all := faultActivate(t, b, "p2")
	t.Logf("activate with %s down: exit %d\n%s", down.Name(), status, all)
	if status != 1 || !strings.Contains(all, down.Addr) || !strings.Contains(all, "nothing was changed") {
		t.Errorf("activate with %s down: exit %d, want 1 naming %s and saying nothing was changed", down.Name(), status, down.Addr)
	}
	if cur := actCurrent(t, b, up); cur != "p1" {
		t.Errorf("%s: current %s after a refused activation, want p1", up.Name(), cur)
	}
	faultIntact(t, up)
	faultStopLoad(t, "through the balancer", load)

	b.StartSSHD(t, down)
	faultIntact(t, b.Hosts...)
	servesEverywhere(t, b, "p1")
	if status, out := faultActivate(t, b, "p2"); status != 0 {
		t.Fatalf("activate p2 once %s is back: exit %d\n%s", down.Name(), status, out)
	}
	servesEverywhere(t, b, "p2")
	faultIntact(t, b.Hosts...)
}
