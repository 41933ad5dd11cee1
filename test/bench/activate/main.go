// Command activate measures what a rolling deploy costs the users of a
// 2-host fleet on the real test bed (test/bed: sshd, pm2 and nginx per
// host, an L4 balancer in front), under constant load through the
// balancer (page GETs, POSTs, static chunks over kept-alive connections):
//
//   - ours: next-deploy's activation (pm2 cluster x2 from the generated
//     ecosystem with the drain preload and wait_ready, the watched
//     reload, the health gate);
//   - naive: switch current, then `pm2 restart` of a 1-instance app,
//     host by host, waiting for each to answer;
//   - no drain: switch current, then `pm2 reload` of a cluster x2 app
//     without the preload (no wait_ready), host by host, health-gated;
//
// and the time of a rollback (2 hosts, rolling, health-gated) against one
// pm2 reload round of one host. It prints the failed requests of each side
// by side with ratios. It is a benchmark to read, not a test: nothing
// asserts a number.
//
//	sudo go run ./test/bench/activate            # 3 deploys per method
//	sudo go run ./test/bench/activate -runs 10
//
// The bed needs a *testing.T, which only the testing package can make, so
// main hands one function to testing.Main (which exits, after the bed's
// cleanup); the -test.* flags are accepted too.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/org/next-deploy/test/bench/benchkit"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/pm2/pm2test"
)

var steps = flag.Bool("steps", false, "print the steps of our activation, timed")

func main() {
	runs := flag.Int("runs", 3, "deploys per method (and rollbacks)")
	benchkit.Main("BenchActivate", func(ctx context.Context, t *testing.T) error {
		if *runs < 1 {
			return fmt.Errorf("-runs %d: want at least 1", *runs)
		}
		return bench(ctx, t, *runs)
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

func (r result) totals() (requests, failed int) {
	for _, s := range r.samples {
		requests += s.stats.Requests
		failed += s.stats.Failures
	}
	return requests, failed
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

func report(results []result, rollback, reload []time.Duration) {
	fmt.Println()
	fmt.Println("Failed requests during a rolling deploy of 2 hosts, load through the L4 balancer")
	fmt.Println("(page GETs, POSTs to /api/echo, static chunks; nginx upstream keep-alive):")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "method\tdeploys\trequests\tfailed\tfailed/deploy\tfailed per 10k\tvs ours\tdeploy time (median)")
	_, oursFailed := results[0].totals()
	oursReq, _ := results[0].totals()
	for _, r := range results {
		req, failed := r.totals()
		per10k := 0.0
		if req > 0 {
			per10k = float64(failed) * 10000 / float64(req)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.1f\t%.2f\t%s\t%.1fs\n", r.name, len(r.samples), req, failed,
			float64(failed)/float64(len(r.samples)), per10k, ratio(failed, req, oursFailed, oursReq), r.medianTime().Seconds())
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
	fmt.Printf("\nRollback of 2 hosts (rolling, reload + health gate each): median %.2fs over %d\n", rb.Seconds(), len(rollback))
	fmt.Printf("One pm2 reload round of one host (2 workers):             median %.2fs over %d\n", rl.Seconds(), len(reload))
	if rl > 0 {
		fmt.Printf("rollback / one reload round = %.2f (%.2f per host)\n", rb.Seconds()/rl.Seconds(), rb.Seconds()/rl.Seconds()/2)
	}
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
