// Command activate measures what a rolling deploy costs the users of a
// fleet on the real test bed (test/bed: sshd, pm2 and nginx per host, an
// L4 balancer in front), under constant load through the balancer (page
// GETs, POSTs, static chunks over kept-alive connections), switching
// -batch hosts at a time (a count or a share: 25%):
//
//   - ours: next-deploy's activation (pm2 cluster x2 from the generated
//     ecosystem with the drain preload and wait_ready, the watched
//     reload, the health gate);
//   - bare: the same ecosystem, switch current then `ssh <host> pm2
//     reload` (the OpenSSH client, a session per host, as a script that
//     reloads a fleet by hand does; -bare-over local runs it as the
//     host's user on this machine, no SSH), in the same batches, nothing
//     else (no preflight, lock, proof or gate): the floor ours is
//     measured against;
//   - naive: switch current, then `pm2 restart` of a 1-instance app, in
//     the same batches, waiting for each host to answer;
//   - no drain: switch current, then `pm2 reload` of a cluster x2 app
//     without the preload (no wait_ready), in the same batches,
//     health-gated;
//
// and ours's rollback (rolling, health-gated, under the same load). It
// prints, side by side, each method's failed and slow requests and its
// deploy time, with ratios to ours and to bare, then the rows issue 15
// item 3 asks for: ours and rollback against bare, the failed and slow
// requests of -runs deploys in a row, the commands run per host. With
// -steps, every step and every command on a host, timed, on stderr. It
// is a benchmark to read, not a test: nothing asserts a number. Take
// numbers on an idle machine (docs/benchmarks.md).
//
//	sudo go run ./test/bench/activate                          # 2 hosts, 3 deploys per method
//	sudo go run ./test/bench/activate -hosts 16 -batch 25% -methods ours,bare
//	sudo go run ./test/bench/activate -hosts 16 -batch 25% -methods ours,bare -runs 10 -rollbacks 1
//	sudo go run ./test/bench/activate -hosts 64 -batch 25% -runs 5
//	sudo go run ./test/bench/activate -hosts 16 -batch 25% -methods ours,bare -bare-over local   # bare without SSH
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
	runs, hosts, rollbacks int
	batch                  fleet.Share
	methods                []string
}

func main() {
	c := config{batch: fleet.Share{N: 1}}
	methods := "ours,bare,naive,nodrain"
	flag.IntVar(&c.runs, "runs", 3, "deploys in a row per method")
	flag.IntVar(&c.rollbacks, "rollbacks", 3, "rollbacks of ours (at most -runs), each after an activation")
	flag.IntVar(&c.hosts, "hosts", 2, "hosts of the bed (1 to 64)")
	flag.Var(&c.batch, "batch", "hosts switched at once: a number, or a share of the hosts like 25%")
	flag.StringVar(&methods, "methods", methods, "the methods to run, of ours,bare,naive,nodrain (ours and bare for the ratios)")
	benchkit.Main("BenchActivate", func(ctx context.Context, t *testing.T) error {
		c.methods = strings.Split(methods, ",")
		if c.runs < 1 || c.rollbacks < 0 {
			return fmt.Errorf("-runs %d -rollbacks %d: want at least 1 deploy, and no negative count", c.runs, c.rollbacks)
		}
		if c.hosts < 1 || c.hosts > 64 {
			return fmt.Errorf("-hosts %d: want 1 to 64", c.hosts)
		}
		if *bareOver != "ssh" && *bareOver != "local" {
			return fmt.Errorf("-bare-over %q: want ssh or local", *bareOver)
		}
		for _, m := range c.methods {
			if !slices.Contains([]string{"ours", "bare", "naive", "nodrain"}, m) {
				return fmt.Errorf("-methods: unknown method %q: want ours, bare, naive or nodrain", m)
			}
		}
		return bench(ctx, t, c)
	})
}

// outcome is what the bench measured.
type outcome struct {
	results []result
	// rollback are ours's rollbacks under load; reload single pm2 reload
	// rounds of one host.
	rollback []sample
	reload   []time.Duration
	// commands is how many commands ours ran per host and deploy.
	commands float64
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

func report(c config, o *outcome) {
	batch := c.batch.Of(c.hosts)
	fmt.Println()
	fmt.Printf("A rolling deploy of %d hosts, %d at a time (-batch %s), load through the L4 balancer\n", c.hosts, batch, c.batch)
	fmt.Println("(page GETs, POSTs to /api/echo, static chunks; nginx upstream keep-alive; slow: no headers within 5 s):")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "method\tdeploys\trequests\tfailed\tslow\tfailed per 10k\tfailed vs ours\tdeploy time (median)\ttime vs bare\ttime vs ours")
	ours, bare := o.find("ours"), o.find("bare")
	oursReq, oursFailed, _ := ours.totals()
	oursTime, bareTime := ours.medianTime(), bare.medianTime()
	for _, r := range o.results {
		req, failed, slow := r.totals()
		per10k := 0.0
		if req > 0 {
			per10k = float64(failed) * 10000 / float64(req)
		}
		t := r.medianTime()
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f\t%s\t%.1fs\t%s\t%s\n", r.name, len(r.samples), req, failed, slow, per10k,
			ratio(failed, req, oursFailed, oursReq), t.Seconds(), times(t, bareTime), times(t, oursTime))
	}
	rb := result{name: "ours: rollback", samples: o.rollback}
	if len(rb.samples) > 0 {
		req, failed, slow := rb.totals()
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f\t%s\t%.1fs\t%s\t%s\n", rb.name, len(rb.samples), req, failed, slow, float64(failed)*10000/float64(max(req, 1)),
			ratio(failed, req, oursFailed, oursReq), rb.medianTime().Seconds(), times(rb.medianTime(), bareTime), times(rb.medianTime(), oursTime))
	}
	w.Flush()
	fmt.Println()
	for _, r := range append(o.results, rb) {
		for _, s := range r.samples {
			if len(s.stats.Errors) > 0 {
				fmt.Printf("%s, first failures: %s\n", r.name, strings.Join(s.stats.Errors[:min(3, len(s.stats.Errors))], " | "))
				break
			}
		}
	}
	if rl := median(o.reload); rl > 0 && len(rb.samples) > 0 {
		rounds := (c.hosts + batch - 1) / batch
		t := rb.medianTime()
		fmt.Printf("\nrollback / one pm2 reload round of one host (%.2fs, no load) = %.2f (%.2f per batch, %d batches)\n", rl.Seconds(), t.Seconds()/rl.Seconds(), t.Seconds()/rl.Seconds()/float64(rounds), rounds)
	}
	o.mustShow(c, ours, bare, rb)
}

// mustShow prints the rows issue 15 item 3 asks for.
func (o *outcome) mustShow(c config, ours, bare, rb result) {
	if len(ours.samples) == 0 {
		return
	}
	req, failed, slow := ours.totals()
	fmt.Printf("\nIssue 15 item 3, %d hosts, -batch %s:\n", c.hosts, c.batch)
	fmt.Printf("  %d rolling deploys in a row under load (ours): %d failed, %d slow (> 5 s) of %d requests\n", len(ours.samples), failed, slow, req)
	if len(bare.samples) > 0 {
		bt := bare.medianTime()
		fmt.Printf("  activate: ours %.1fs / bare rolling pm2 reload %.1fs = %s (want <= 1.30x)\n", ours.medianTime().Seconds(), bt.Seconds(), times(ours.medianTime(), bt))
		if len(rb.samples) > 0 {
			rreq, rfailed, rslow := rb.totals()
			fmt.Printf("  rollback: ours %.1fs / bare %.1fs = %s (want <= 1.30x); %d failed, %d slow of %d requests\n", rb.medianTime().Seconds(), bt.Seconds(), times(rb.medianTime(), bt), rfailed, rslow, rreq)
		}
	}
	fmt.Printf("  commands per host and deploy (ours): %.1f, over one SSH connection per host for the whole bench\n", o.commands)
	o.goals(c, ours, bare, rb)
}

// goals prints the rows of mustShow as benchkit goals (report.sh's table).
func (o *outcome) goals(c config, ours, bare, rb result) {
	at := fmt.Sprintf("%d hosts, -batch %s", c.hosts, c.batch)
	req, failed, slow := ours.totals()
	benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: fmt.Sprintf("%d rolling deploys in a row under load, %s: failed + slow requests", len(ours.samples), at),
		Ours: fmt.Sprintf("%d failed, %d slow", failed, slow), Alternative: fmt.Sprintf("of %d requests", req), Ratio: float64(failed + slow), Max: 0, Count: true})
	if len(bare.samples) == 0 {
		return
	}
	bt := bare.medianTime()
	// The floor says how bare reached the hosts (-bare-over).
	_, floor, of := bareFloor()
	benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "activate, " + at + ", under GET+POST load: wall" + of,
		Ours: fmt.Sprintf("%.1f s", ours.medianTime().Seconds()), Alternative: fmt.Sprintf("%s %.1f s", floor, bt.Seconds()),
		Ratio: ours.medianTime().Seconds() / bt.Seconds(), Max: 1.3})
	if len(rb.samples) > 0 {
		rreq, rfailed, rslow := rb.totals()
		benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "rollback, " + at + ", under load: wall" + of,
			Ours: fmt.Sprintf("%.1f s", rb.medianTime().Seconds()), Alternative: fmt.Sprintf("%s %.1f s", floor, bt.Seconds()),
			Ratio: rb.medianTime().Seconds() / bt.Seconds(), Max: 1.3})
		benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "rollback, " + at + ": failed + slow requests",
			Ours: fmt.Sprintf("%d failed, %d slow", rfailed, rslow), Alternative: fmt.Sprintf("of %d requests", rreq), Ratio: float64(rfailed + rslow), Max: 0, Count: true})
	}
}

// find is the result of the method named by key ("ours: ..."), or none.
func (o *outcome) find(key string) result {
	for _, r := range o.results {
		if strings.HasPrefix(r.name, key+":") {
			return r
		}
	}
	return result{}
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
