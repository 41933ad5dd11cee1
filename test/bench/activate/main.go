// Command activate measures what a rolling deploy costs the users of a
// fleet on the real test bed (test/bed: sshd, pm2 and nginx per host, an
// L4 balancer in front), under constant load through the balancer (page
// GETs, POSTs, static chunks over kept-alive connections), switching
// -batch hosts at a time (a count or a share: 25%):
//
//   - ours: next-deploy's activation (pm2 cluster x2 from the generated
//     ecosystem with the drain preload and wait_ready, the watched
//     reload, the health gate);
//   - bare: the same ecosystem, switch current then `pm2 reload`, in the
//     same batches, nothing else (no preflight, lock, proof or gate): the
//     floor ours is measured against;
//   - naive: switch current, then `pm2 restart` of a 1-instance app, in
//     the same batches, waiting for each host to answer;
//   - no drain: switch current, then `pm2 reload` of a cluster x2 app
//     without the preload (no wait_ready), in the same batches,
//     health-gated;
//
// and the time of a rollback (rolling, health-gated) against one pm2
// reload round of one host. It prints, side by side, each method's failed
// and slow requests and its deploy time, with ratios to ours and to bare.
// It is a benchmark to read, not a test: nothing asserts a number. Take
// numbers on an idle machine (docs/benchmarks.md).
//
//	sudo go run ./test/bench/activate                          # 2 hosts, 3 deploys per method
//	sudo go run ./test/bench/activate -hosts 16 -batch 25%
//	sudo go run ./test/bench/activate -hosts 64 -batch 25% -runs 5
//
// The bed needs a *testing.T, which only the testing package can make, so
// main hands one function to testing.Main (which exits, after the bed's
// cleanup); the -test.* flags are accepted too.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/test/bench/benchkit"
)

var steps = flag.Bool("steps", false, "print the steps of our activation, timed")

// config is what the flags ask for.
type config struct {
	runs, hosts int
	batch       fleet.Share
}

func main() {
	c := config{batch: fleet.Share{N: 1}}
	flag.IntVar(&c.runs, "runs", 3, "deploys per method (and rollbacks)")
	flag.IntVar(&c.hosts, "hosts", 2, "hosts of the bed (1 to 64)")
	flag.Var(&c.batch, "batch", "hosts switched at once: a number, or a share of the hosts like 25%")
	benchkit.Main("BenchActivate", func(ctx context.Context, t *testing.T) error {
		if c.runs < 1 {
			return fmt.Errorf("-runs %d: want at least 1", c.runs)
		}
		if c.hosts < 1 || c.hosts > 64 {
			return fmt.Errorf("-hosts %d: want 1 to 64", c.hosts)
		}
		return bench(ctx, t, c)
	})
}

// sample is one deploy under load.
type sample struct {
	stats   pm2test.Stats
	elapsed time.Duration
}

// result is a method's samples.
type result struct {
	name    string
	samples []sample
}

func (r result) totals() (requests, failed, slow int) {
	for _, s := range r.samples {
		requests += s.stats.Requests
		failed += s.stats.Failures
		slow += s.stats.Slow
	}
	return requests, failed, slow
}

func (r result) medianTime() time.Duration {
	ds := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		ds[i] = s.elapsed
	}
	return median(ds)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(c config, results []result, rollback, reload []time.Duration) {
	batch := c.batch.Of(c.hosts)
	fmt.Println()
	fmt.Printf("A rolling deploy of %d hosts, %d at a time (-batch %s), load through the L4 balancer\n", c.hosts, batch, c.batch)
	fmt.Println("(page GETs, POSTs to /api/echo, static chunks; nginx upstream keep-alive; slow: no headers within 5 s):")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "method\tdeploys\trequests\tfailed\tslow\tfailed per 10k\tfailed vs ours\tdeploy time (median)\ttime vs bare\ttime vs ours")
	oursReq, oursFailed, _ := results[0].totals()
	oursTime, bareTime := results[0].medianTime(), results[1].medianTime()
	for _, r := range results {
		req, failed, slow := r.totals()
		per10k := 0.0
		if req > 0 {
			per10k = float64(failed) * 10000 / float64(req)
		}
		t := r.medianTime()
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f\t%s\t%.1fs\t%s\t%s\n", r.name, len(r.samples), req, failed, slow, per10k,
			ratio(failed, req, oursFailed, oursReq), t.Seconds(), times(t, bareTime), times(t, oursTime))
	}
	w.Flush()
	fmt.Println()
	for _, r := range results {
		for _, s := range r.samples {
			if len(s.stats.Errors) > 0 {
				fmt.Printf("%s, first failures: %s\n", r.name, strings.Join(s.stats.Errors[:min(3, len(s.stats.Errors))], " | "))
				break
			}
		}
	}
	rb, rl := median(rollback), median(reload)
	fmt.Printf("\nRollback of %d hosts, %d at a time (reload + health gate each): median %.2fs over %d\n", c.hosts, batch, rb.Seconds(), len(rollback))
	fmt.Printf("One pm2 reload round of one host (2 workers): median %.2fs over %d\n", rl.Seconds(), len(reload))
	if rl > 0 {
		rounds := (c.hosts + batch - 1) / batch
		fmt.Printf("rollback / one reload round = %.2f (%.2f per batch, %d batches)\n", rb.Seconds()/rl.Seconds(), rb.Seconds()/rl.Seconds()/float64(rounds), rounds)
	}
}

// times is a / b as "1.23x".
func times(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds())
}

// ratio compares a method's failure rate with ours.
func ratio(failed, req, oursFailed, oursReq int) string {
	switch {
	case failed == oursFailed && failed == 0:
		return "="
	case oursFailed == 0:
		return fmt.Sprintf("ours 0 vs %d", failed)
	}
	a := float64(failed) / float64(max(req, 1))
	b := float64(oursFailed) / float64(max(oursReq, 1))
	return fmt.Sprintf("%.1fx", a/b)
}
