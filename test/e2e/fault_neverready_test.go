package e2e

import (
	"strings"
	"testing"
)

// hangJS starts and stays up but never listens, so it never signals
// ready (the drain preload sends 'ready' when the server listens): a
// release stuck on a database at start, or listening on the wrong port.
const hangJS = `'use strict';
console.error('release RELEASE: waiting for a database that never answers');
setInterval(() => {}, 1000);
`

// TestFaultReleaseNeverReady: a release whose server starts but never
// listens, under pm2's wait_ready and listen_timeout. activate's reload
// must not let pm2 stop the old workers for it (pm2 does after
// listen_timeout, ready or not): the health gate fails, the host goes
// back, exit 1 naming the host; the old workers serve all along (0 failed
// requests through the balancer); every host is on the old release, no
// lock, nothing half-written.
func TestFaultReleaseNeverReady(t *testing.T) {
	b := actBed(t)
	s := actTiny{}
	s.ship(t, b, "ok1", false)
	if status, out := faultActivate(t, b, "ok1"); status != 0 {
		t.Fatalf("activate ok1: exit %d\n%s", status, out)
	}
	art := faultArtifact(t, "hang2", map[string]string{"server.js": strings.ReplaceAll(hangJS, "RELEASE", "hang2")}, 0)
	if status, out, errOut := actCLI(t, b, "deliver", "--artifact", art); status != 0 {
		t.Fatalf("deliver hang2: exit %d\n%s%s", status, out, errOut)
	}
	load := actLoad(b, s.chunks("ok1"))
	status, out := faultActivate(t, b, "hang2", "--health-timeout", "10s")
	t.Logf("activate hang2: exit %d\n%s", status, out)
	faultStopLoad(t, "through the balancer", load)
	if status != 1 || !strings.Contains(out, b.Hosts[0].Addr) {
		t.Errorf("activate of a release that never gets ready: exit %d, want 1 naming %s", status, b.Hosts[0].Addr)
	}
	if !strings.Contains(out, "rolled back") {
		t.Errorf("the report does not say the host went back")
	}
	servesEverywhere(t, b, "ok1")
	faultIntact(t, b.Hosts...)
}
