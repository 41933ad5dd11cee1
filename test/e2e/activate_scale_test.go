package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// scaleHosts is the fleet of the scale test (issue 15): 16 hosts, each
// its own sshd, user, pm2 daemon with the light app in cluster x2, and
// nginx, behind the stream balancer. The benchmark takes 64 by a flag
// (test/bench/activate -hosts).
const scaleHosts = 16

// TestScaleActivateByShareAndCanary, on 16 hosts:
//   - activate v2 with --batch 25% (4 batches of 4) under GET+POST load
//     through the balancer: 0 failed requests, none slower than 5 s;
//   - a release that answers 500 on POST /api/echo, its health URL fine,
//     with --canary 1: stopped after the canary, the canary back on v2,
//     no other host switched (current and history untouched), exit 1
//     naming the canary and the count.
func TestScaleActivateByShareAndCanary(t *testing.T) {
	b := faultBed(t, scaleHosts)
	begin := time.Now() // after the bed's lock: other beds may run first
	scaleShip(t, b, pm2test.Release{ID: "v1"}, pm2test.Release{ID: "v2"}, pm2test.Release{ID: "bad3", Fail: "/api/echo"})
	if status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "v1", "--batch", "100%"}, actFlags()...)...); status != 0 {
		t.Fatalf("first activation: exit %d\n%s\n%s", status, out, errOut)
	}
	t.Logf("3 releases on %d hosts and v1 started: %s", scaleHosts, time.Since(begin).Round(time.Second))
	scaleMemory(t, b)
	step(t, "v1 to v2 by 25% under load", func(t *testing.T) { scaleByShare(t, b) })
	step(t, "a bad canary goes back alone", func(t *testing.T) { scaleBadCanary(t, b) })
	t.Logf("scale test: %s once the bed was up", time.Since(begin).Round(time.Second))
}

func scaleByShare(t *testing.T, b *bed.Bed) {
	load := actLoad(b, actTiny{}.chunks("v1"))
	time.Sleep(time.Second)
	start := time.Now()
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "v2", "--batch", "25%"}, actFlags()...)...)
	took := time.Since(start)
	time.Sleep(time.Second)
	st := load.Stop()
	t.Logf("activate --batch 25%% of %d hosts: %s; load: %s", scaleHosts, took.Round(100*time.Millisecond), st)
	if status != 0 {
		t.Fatalf("activate v2: exit %d\n%s\n%s", status, out, errOut)
	}
	if st.Failures != 0 || st.Slow != 0 || st.Releases["v2"] == 0 {
		t.Errorf("load during the rollout: %s; want 0 failed, 0 slow, v2 served: %v", st, st.Errors)
	}
	if n := strings.Count(errOut, "switching current v1 -> v2"); n != scaleHosts {
		t.Errorf("%d hosts switched, want %d:\n%s", n, scaleHosts, errOut)
	}
	servesEverywhere(t, b, "v2")
}

func scaleBadCanary(t *testing.T, b *bed.Bed) {
	before := scaleHistories(t, b)
	// The balancer keeps a kept-alive connection on one host; a little
	// load straight at the canary's nginx makes sure it serves users in
	// its window, as a site's traffic would.
	canary := pm2test.Load{BaseURL: "http://" + b.Hosts[0].NginxAddr, Workers: 2}.Start(context.Background())
	load := actLoad(b, actTiny{}.chunks("v2"))
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "bad3", "--batch", "25%",
		"--canary", "1", "--canary-time", "20s"}, actFlags()...)...)
	st, cst := load.Stop(), canary.Stop()
	t.Logf("activate bad3 with a canary (exit %d):\n%s%s", status, out, errOut)
	t.Logf("load: %s; at the canary: %s", st, cst)
	if status != 1 {
		t.Fatalf("activate of a release answering 500: exit %d, want 1", status)
	}
	msg := out + errOut
	for _, want := range []string{"bad canary " + b.Hosts[0].Target(), "answers 5xx", "the other 15 hosts were not touched"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report does not say %q", want)
		}
	}
	// The only failures the users saw are the bad release's 500s, on the
	// canary, in its window.
	for _, e := range append(st.Errors, cst.Errors...) {
		if !strings.Contains(e, "POST /api/echo: status 500") {
			t.Errorf("a failure that is not the bad release's 500: %s", e)
		}
	}
	if st.Slow != 0 || cst.Slow != 0 {
		t.Errorf("slow requests during the canary: %d, %d", st.Slow, cst.Slow)
	}
	servesEverywhere(t, b, "v2")
	after := scaleHistories(t, b)
	for i, h := range b.Hosts[1:] {
		if after[i+1] != before[i+1] {
			t.Errorf("%s: history changed, the canary should have touched no other host:\n%s", h.Name(), after[i+1])
		}
	}
	if !strings.Contains(after[0], `"release":"bad3"`) || !strings.Contains(after[0], `"action":"rollback"`) {
		t.Errorf("%s: the canary's history does not show bad3 then the way back:\n%s", b.Hosts[0].Name(), after[0])
	}
}

// scaleShip delivers the releases to every host, the hosts at once.
func scaleShip(t *testing.T, b *bed.Bed, rs ...pm2test.Release) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(b.Hosts))
	for i, h := range b.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			host, err := pm2test.Dial(ctx, h.Target(), b.KnownHostsFile, b.ClientKeyFile)
			if err != nil {
				errs[i] = err
				return
			}
			defer host.Close()
			for _, r := range rs {
				if err := r.Deliver(ctx, host, release.Layout{Root: "~/app"}); err != nil {
					errs[i] = fmt.Errorf("deliver %s to %s: %w", r.ID, h.Name(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// scaleHistories are the hosts' activation histories, as files.
func scaleHistories(t *testing.T, b *bed.Bed) []string {
	t.Helper()
	out := make([]string, len(b.Hosts))
	for i, h := range b.Hosts {
		out[i] = b.RunAs(t, h, `cat ~/app/.next-deploy/history.jsonl`)
	}
	return out
}

// scaleMemory logs what the fleet holds in memory: the hosts' users'
// processes (pm2 daemon, node workers, ssh sessions) and the bed's
// daemons (sshd, nginx, under b.Dir).
func scaleMemory(t *testing.T, b *bed.Bed) {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "rss=,user:32=,args=").Output()
	if err != nil {
		t.Logf("memory: ps: %v", err)
		return
	}
	users := map[string]bool{}
	for _, h := range b.Hosts {
		users[h.User] = true
	}
	var hostKiB, bedKiB, procs int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		kib, _ := strconv.Atoi(f[0])
		switch {
		case users[f[1]]:
			hostKiB += kib
			procs++
		case strings.Contains(line, b.Dir):
			bedKiB += kib
			procs++
		}
	}
	t.Logf("memory: %d processes; the hosts' users (pm2, node) %d MiB RSS, the bed's sshd and nginx %d MiB", procs, hostKiB>>10, bedKiB>>10)
}
