package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/test/bed"
)

// TestFaultHostDiesMidRollout: a rollout of 3 hosts, one at a time with a
// pause between batches; once the first host has switched, the second
// host's sshd is killed with its established connection. The rollout
// stops, exits 1 naming the dead host; --on-failure rollback-all takes the
// switched host back; the third host is never touched; the two reachable
// hosts serve without a failed request (load straight to each) and hold
// no lock. When the dead host comes back, its lock (which the dead run
// could not release) is refused as held, naming the host and how to
// break it, and --break-lock-after breaks it: the same activate then goes
// through everywhere.
func TestFaultHostDiesMidRollout(t *testing.T) {
	b := faultBed(t, 3)
	s := actTiny{}
	for _, id := range []string{"d1", "d2"} {
		s.ship(t, b, id, false)
	}
	if status, out := faultActivate(t, b, "d1"); status != 0 {
		t.Fatalf("activate d1: exit %d\n%s", status, out)
	}
	first, dead, last := b.Hosts[0], b.Hosts[1], b.Hosts[2]
	loads := map[string]*pm2test.Run{
		first.Name(): faultHostLoad(first, s.chunks("d1")),
		last.Name():  faultHostLoad(last, s.chunks("d1")),
	}
	run := actStart(t, b, append([]string{"activate", "--release", "d2", "--batch", "1", "--pause", "30s"}, actFlags()...)...)
	waitFor(t, "the first host to switch to d2", 2*time.Minute, func() bool {
		return actCurrent(t, b, first) == "d2" && healthy(t, first, "d2")
	})
	b.StopSSHD(t, dead)
	status, out := faultWait(t, run, 5*time.Minute)
	t.Logf("activate d2 with %s dying: exit %d\n%s", dead.Name(), status, out)
	if status != 1 || !strings.Contains(out, dead.Addr) {
		t.Errorf("activate with a dead host: exit %d, want 1 naming %s", status, dead.Addr)
	}
	for _, h := range []*bed.Host{first, last} {
		if cur := actCurrent(t, b, h); cur != "d1" {
			t.Errorf("%s: current %s, want d1 (rollback-all; the last host never touched)", h.Name(), cur)
		}
	}
	for name, l := range loads {
		faultStopLoad(t, "straight to "+name, l)
	}
	faultIntact(t, first, last)

	b.StartSSHD(t, dead)
	if cur := actCurrent(t, b, dead); cur != "d1" {
		t.Errorf("%s: current %s after it came back, want d1 (it died before its turn)", dead.Name(), cur)
	}
	if len(faultLocks(t, dead)) == 0 {
		t.Logf("note: %s holds no lock after it came back", dead.Name())
	} else {
		status, out = faultActivate(t, b, "d2")
		if status != 1 || !strings.Contains(out, "held by") || !strings.Contains(out, dead.Addr) || !strings.Contains(out, "--break-lock-after") {
			t.Errorf("activate with the dead run's lock on %s: exit %d, want 1 naming the host, the holder and --break-lock-after\n%s", dead.Name(), status, out)
		}
		faultIntact(t, first, last)
	}
	if status, out = faultActivate(t, b, "d2", "--break-lock-after", "1s"); status != 0 {
		t.Fatalf("activate d2 breaking the stale lock: exit %d\n%s", status, out)
	}
	servesEverywhere(t, b, "d2")
	faultIntact(t, b.Hosts...)
}
