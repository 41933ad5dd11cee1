package pm2_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/test/bed"
)

// Issue 15 item 7, on the bed as it was seen: 2 hosts, pm2 cluster x2
// from config pm2 (the drain preload, a server that exits on SIGINT like
// Next), 8 clients straight to the app ports, rolling pm2 reloads r1 ->
// r2 -> r1 ... host by host, watched as activate watches them. Every
// request must be answered, none slower than 5 s.
// NEXT_DEPLOY_HANG_ROUNDS sets the number of rolling reloads (default 6).
//
// The hang (a connection pm2's daemon handed to a worker that exited
// before reading it) needs the daemon to be slow at the moment a worker
// closes: on the bed it is rare, so this test guards the scenario as a
// whole, and TestPreloadLeavesTheClusterBeforeExiting reproduces the
// race itself, every time, with a busy primary.
func TestRollingReloadsNeverHang(t *testing.T) {
	rounds := 6
	if v, err := strconv.Atoi(os.Getenv("NEXT_DEPLOY_HANG_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	b := bed.Start(t, bed.Options{Hosts: 2, PM2: true})
	ctx := context.Background()
	sites := make([]*site, len(b.Hosts))
	for i, h := range b.Hosts {
		sites[i] = siteOn(t, b, h, nil, "r1", "r2")
		sites[i].startOn(t, "r1")
	}
	var loads []*pm2test.Run
	for _, h := range b.Hosts {
		loads = append(loads, pm2test.Load{BaseURL: "http://" + h.AppAddr, Workers: 4}.Start(ctx))
	}
	for r := range rounds {
		id := []string{"r2", "r1"}[r%2]
		for _, s := range sites {
			s.switchTo(t, id)
			// The reload activate runs: it polls pm2's process list,
			// which keeps pm2's daemon (the cluster primary) busy.
			if _, err := s.run.Reload(ctx, s.host, s.site, pm2.Watch{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var total pm2test.Stats
	for i, l := range loads {
		st := l.Stop()
		t.Logf("%s: %s", b.Hosts[i].Name(), st)
		total.Requests += st.Requests
		total.Failures += st.Failures
		total.Slow += st.Slow
		total.Errors = append(total.Errors, st.Errors...)
	}
	t.Logf("%d rolling reloads of 2 hosts: %d requests, %d failed, %d slow", rounds, total.Requests, total.Failures, total.Slow)
	if total.Failures != 0 || total.Requests == 0 {
		t.Errorf("%d failed (%d slow) of %d requests: %v", total.Failures, total.Slow, total.Requests, total.Errors)
	}
}
