// Command deliver compares next-deploy's full delivery (pack to .tar.zst,
// then deliver.Inspect + deliver.Run) with what teams do by hand: scp of a
// `tar czf` tarball plus a remote `tar -xzf`, and rsync of the unpacked
// tree; each to N hosts of the real test bed (test/bed), all hosts in
// parallel, into a fresh directory per run. For each host count of -hosts
// it prints the median of -runs runs per method: wall time, the runner's
// own CPU seconds (getrusage of this process and its children: our SSH
// client, or scp, ssh, rsync and tar) in all and per host, the bytes sent
// to a host, and ratios to scp + tar; then how CPU and bytes per host
// grow from the first host count to the last (flat is 1.00). It is a
// benchmark to read, not a test: nothing asserts a time. Take numbers on
// an idle machine (docs/benchmarks.md).
//
//	sudo go run ./test/bench/deliver                          # 2 hosts; the fixture's standalone build if there is one, else a synthetic tree
//	sudo go run ./test/bench/deliver -hosts 2,16 -runs 3      # one bed of 16 hosts, measured at 2 and at 16
//	sudo go run ./test/bench/deliver -hosts 2,3 -npm default  # a node_modules tree of ~100 MB, 14,000 files (npm install)
//	sudo go run ./test/bench/deliver -tree DIR                # or ND_BENCH_TREE=DIR: a standalone tree, or any folder (a node_modules) shipped as one
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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
	"github.com/org/next-deploy/test/bench/benchkit"
)

// config is what the flags ask for.
type config struct {
	runs  int
	hosts []int
	tree  string
	npm   string
	rsync bool
}

func main() {
	var c config
	hosts := flag.String("hosts", "2", "host counts to measure, comma-separated (1 to 64): one bed of the largest")
	flag.IntVar(&c.runs, "runs", 3, "runs per method and host count; the median counts")
	flag.StringVar(&c.tree, "tree", os.Getenv("ND_BENCH_TREE"), "tree to deliver: a standalone build, or any folder (a node_modules) shipped inside one (default $ND_BENCH_TREE, else the fixture's build, else synthetic)")
	flag.StringVar(&c.npm, "npm", "", `npm packages to install into a temporary node_modules and deliver ("default": `+defaultNPM+")")
	flag.BoolVar(&c.rsync, "rsync", true, "measure rsync -a and rsync -az too")
	benchkit.Main("BenchDeliver", func(ctx context.Context, t *testing.T) error {
		var err error
		if c.hosts, err = parseHosts(*hosts); err != nil {
			return err
		}
		if c.runs < 1 {
			return fmt.Errorf("-runs %d: want at least 1", c.runs)
		}
		return bench(ctx, t, c)
	})
}

func parseHosts(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("-hosts %q: want host counts from 1 to 64, like 2,16", s)
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return slices.Compact(ns), nil
}

// sample is one run of one method to n hosts.
type sample struct {
	pack, send float64 // wall seconds
	cpu        float64 // the runner's CPU seconds while sending
	bytes      float64 // sent to one host (mean)
}

func bench(ctx context.Context, t *testing.T, c config) error {
	b := bed.Start(t, bed.Options{Hosts: c.hosts[len(c.hosts)-1]})
	src, desc, err := pickTree(ctx, c.tree, c.npm, t.TempDir())
	if err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	files, size, err := countTree(src)
	if err != nil {
		return err
	}
	fmt.Printf("tree: %s: %d files, %.1f MiB; hosts in parallel; median of %d runs\n", desc, files, benchkit.MiB(size), c.runs)
	ms, err := methods(b, src, c.rsync)
	if err != nil {
		return err
	}
	var rows []row
	for _, n := range c.hosts {
		hs := b.Hosts[:n]
		samples := make([][]sample, len(ms))
		for r := range c.runs {
			for i, m := range ms { // interleaved, so drift hits every method alike
				dir := fmt.Sprintf("%s/n%d-r%d", m.dir, n, r)
				s, err := measure(ctx, t, m, hs, dir)
				if err != nil {
					return fmt.Errorf("%s to %d hosts: %w", m.name, n, err)
				}
				if err := check(b, hs, dir, files); err != nil {
					return fmt.Errorf("%s: %w", m.name, err)
				}
				samples[i] = append(samples[i], s)
			}
		}
		rows = append(rows, medians(n, ms, samples)...)
		rs := rows[len(rows)-len(ms):]
		report(os.Stdout, n, ms, rs)
		o, scpRow := rs[ours], rs[scp]
		benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: fmt.Sprintf("deliver (full) to %d hosts, %s: wall", n, desc),
			Ours: fmt.Sprintf("%.2f s", o.send), Alternative: fmt.Sprintf("parallel scp + tar -x %.2f s", scpRow.send), Ratio: o.send / scpRow.send, Max: 1.0})
	}
	flatness(os.Stdout, ms, rows, c.hosts)
	if len(c.hosts) > 1 {
		first, last := rows[ours], rows[len(rows)-len(ms)+ours]
		perHost := func(r row) float64 { return r.cpu / float64(r.hosts) }
		span := fmt.Sprintf("%d vs %d hosts", last.hosts, first.hosts)
		benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "deliver: runner CPU per host, " + span, Ours: fmt.Sprintf("%.3f s", perHost(last)),
			Alternative: fmt.Sprintf("%.3f s at %d hosts", perHost(first), first.hosts), Ratio: perHost(last) / perHost(first), Max: 1.2})
		benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "deliver: bytes per host, " + span, Ours: fmt.Sprintf("%.2f MiB", benchkit.MiB(int64(last.bytes))),
			Alternative: fmt.Sprintf("%.2f MiB at %d hosts", benchkit.MiB(int64(first.bytes)), first.hosts), Ratio: last.bytes / first.bytes, Max: 1.01})
	}
	return nil
}

// measure packs (when the method does) and sends to hosts, timing both and
// taking the runner's CPU seconds while it sends.
func measure(ctx context.Context, t *testing.T, m method, hs []*bed.Host, dir string) (sample, error) {
	var s sample
	art, start := "", time.Now()
	if m.pack != nil {
		var err error
		if art, err = m.pack(ctx, t.TempDir()); err != nil {
			return s, fmt.Errorf("pack: %w", err)
		}
	}
	s.pack = time.Since(start).Seconds()
	cpu0, start := benchkit.CPUSeconds(), time.Now()
	n, err := m.send(ctx, art, dir, hs)
	if err != nil {
		return s, fmt.Errorf("deliver: %w", err)
	}
	s.send, s.cpu, s.bytes = time.Since(start).Seconds(), benchkit.CPUSeconds()-cpu0, float64(n)
	return s, nil
}
