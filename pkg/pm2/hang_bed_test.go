package pm2_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
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
	run := pm2.Runner{Root: "~/app", Ecosystem: pm2.DefaultEcosystem, Env: "production"}
	layout := release.Layout{Root: "~/app"}
	hosts := make([]remote.Host, len(b.Hosts))
	sites := make([]*pm2.Site, len(b.Hosts))
	for i, h := range b.Hosts {
		hosts[i] = hangHost(t, b, h, run, layout)
		var err error
		if sites[i], err = run.Inspect(ctx, hosts[i]); err != nil {
			t.Fatal(err)
		}
	}
	var loads []*pm2test.Run
	for _, h := range b.Hosts {
		loads = append(loads, pm2test.Load{BaseURL: "http://" + h.AppAddr, Workers: 4}.Start(ctx))
	}
	for r := range rounds {
		id := []string{"r2", "r1"}[r%2]
		for i := range hosts {
			if err := layout.Switch(ctx, hosts[i], id); err != nil {
				t.Fatal(err)
			}
			// The reload activate runs: it polls pm2's process list,
			// which keeps pm2's daemon (the cluster primary) busy.
			if _, err := run.Reload(ctx, hosts[i], sites[i], pm2.Watch{}); err != nil {
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

// hangHost delivers r1 and r2 to h, writes the ecosystem from config pm2
// (cluster x2, the preload) and starts it on r1.
func hangHost(t *testing.T, b *bed.Bed, h *bed.Host, run pm2.Runner, layout release.Layout) remote.Host {
	t.Helper()
	ctx := context.Background()
	host, err := pm2test.Dial(ctx, h.Target(), b.KnownHostsFile, b.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	for _, id := range []string{"r1", "r2"} {
		if err := (pm2test.Release{ID: id}).Deliver(ctx, host, layout); err != nil {
			t.Fatal(err)
		}
	}
	cfg := pm2.Defaults
	cfg.Root, cfg.Hostname = "~/app", h.Addr
	eco, err := pm2.Ecosystem(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Install(ctx, host, eco); err != nil {
		t.Fatal(err)
	}
	if err := layout.Switch(ctx, host, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := run.Start(ctx, host); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", h.Name(), err))
	}
	return host
}
