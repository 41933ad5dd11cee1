// Command pack compares next-deploy's pack with `tar -czf` (gzip -6) on
// real JavaScript-heavy trees and prints size and time side by side, as
// ratios to tar -czf, one table per tree. It is a benchmark to read, not a
// test: nothing asserts a time.
//
//	go run ./test/bench/pack                        # builds the fixture (about a minute), fetches next@15.5.4
//	go run ./test/bench/pack --source DIR           # packs DIR (a standalone dir, static copied in) instead of the fixture
//	go run ./test/bench/pack --npm next@15.5.4      # the published package tree (npm pack; "" skips it)
//	go run ./test/bench/pack --fixture=false        # the published package tree only
//
// The trees: the fixture's standalone tree (Next 16 with sharp's native
// libraries), the same without its native libraries, and a published npm
// package laid out as a standalone tree (node_modules/next of next@15.5.4:
// 138 MB of JavaScript, source maps and types in 7,252 files, many of them
// bundles much alike and far apart in the tree).
//
// Targets: issue 3, on the fixture, the default format at most 0.85x the
// bytes of tar -czf in at most 0.75x its time; issue 15, on the package
// tree, at most 0.60x the bytes in at most 0.50x the time, and the fixture
// no worse than before.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bench/benchkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench pack:", err)
		os.Exit(1)
	}
}

// contender is one way of packing the tree.
type contender struct {
	name string
	pack func(ctx context.Context, src, out string) (string, error) // returns the artifact
}

type measure struct {
	name    string
	bytes   int64
	seconds float64
	// cpu is the CPU time (user and system, this process and its
	// children) of the fastest run: on a machine shared with other work,
	// wall time swings, the CPU a method needs much less.
	cpu float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pack", flag.ContinueOnError)
	source := fs.String("source", "", "standalone tree to pack; empty: build test/fixtures/next-app first")
	fixture := fs.Bool("fixture", true, "pack the fixture's tree (or --source) and the same without native libraries")
	npm := fs.String("npm", "next@15.5.4", "published npm package to pack as a tree of its own (npm pack); empty: none")
	runs := fs.Int("runs", 3, "runs per contender; the fastest counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if *fixture {
		if err := fixtureTrees(ctx, stdout, stderr, *source, work, *runs); err != nil {
			return err
		}
	}
	if *npm == "" {
		return nil
	}
	src, err := packageTree(ctx, work, *npm, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nthe published package %s (target, issue 15: bytes <= 0.60x, time <= 0.50x of tar -czf):\n", *npm)
	// xz takes a minute a run on this tree and is no contender for speed.
	rs, err := compare(ctx, stdout, src, work, *runs, contenders()[:6])
	if err != nil {
		return err
	}
	printGoals(stdout, "pack of "+*npm, rs, 0.6, 0.5)
	return nil
}

// printGoals prints the goals of the default format (results[1])
// against tar -czf (results[0]).
func printGoals(w io.Writer, tree string, rs []measure, bytes, time float64) {
	tar, ours := rs[0], rs[1]
	benchkit.PrintGoal(w, benchkit.Goal{What: tree + ": bytes", Ours: fmt.Sprintf("%.2f MB", float64(ours.bytes)/1e6),
		Alternative: fmt.Sprintf("tar -czf %.2f MB", float64(tar.bytes)/1e6), Ratio: float64(ours.bytes) / float64(tar.bytes), Max: bytes})
	benchkit.PrintGoal(w, benchkit.Goal{What: tree + ": time", Ours: fmt.Sprintf("%.2f s", ours.seconds),
		Alternative: fmt.Sprintf("tar -czf %.2f s", tar.seconds), Ratio: ours.seconds / tar.seconds, Max: time})
}

// fixtureTrees compares on the fixture's standalone tree (built, or
// source), then on the same tree without its native libraries.
func fixtureTrees(ctx context.Context, stdout, stderr io.Writer, source, work string, runs int) error {
	src := source
	if src == "" {
		var err error
		if src, err = buildFixture(ctx, work, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "the fixture's standalone tree (target, issue 3: bytes <= 0.85x, time <= 0.75x of tar -czf; issue 15: no worse):")
	rs, err := compare(ctx, stdout, src, work, runs, contenders())
	if err != nil {
		return err
	}
	// Issue 15: no worse than before it. Before (f05391a) the fixture
	// packed to 0.93x the bytes of tar -czf (11,159,409 bytes); issue
	// 3's time target stays.
	printGoals(stdout, "pack of the fixture (no worse than 0.93x before issue 15)", rs, 0.93, 0.75)
	// Native libraries (sharp's libvips alone is about half of a Next 16
	// standalone tree) compress alike with every compressor; the same
	// tree without them shows what the compressors do with the app's
	// JavaScript.
	js, err := withoutNative(work, src)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nthe same tree without native libraries (*.so*, *.node):")
	_, err = compare(ctx, stdout, js, work, runs, contenders())
	return err
}

func compare(ctx context.Context, stdout io.Writer, src, work string, runs int, cs []contender) ([]measure, error) {
	var results []measure
	for _, c := range cs {
		m, err := timeIt(ctx, c, src, work, runs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		results = append(results, m)
	}
	return results, report(stdout, src, results)
}

func contenders() []contender {
	ours := func(f release.Format, level int) contender {
		name := fmt.Sprintf("next-deploy pack %s", f)
		if level == 0 {
			_, _, def := archive.Levels(f)
			name += fmt.Sprintf(" (default, level %d)", def)
		} else {
			name += fmt.Sprintf(" --level %d", level)
		}
		return contender{name, func(ctx context.Context, src, out string) (string, error) {
			r, err := archive.Pack(ctx, archive.Options{Source: src, Release: "bench", Format: f, Level: level, OutputDir: out})
			if err != nil {
				return "", err
			}
			return r.Artifact, nil
		}}
	}
	return []contender{
		{"tar -czf (gzip -6)", func(ctx context.Context, src, out string) (string, error) {
			a := filepath.Join(out, "bench.tar.gz")
			cmd := exec.CommandContext(ctx, "tar", "-czf", a, "-C", src, ".")
			cmd.Env = append(os.Environ(), "GZIP=-6")
			if b, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("%w: %s", err, b)
			}
			return a, nil
		}},
		ours(release.Zstd, 0),
		ours(release.Zstd, 3),
		ours(release.Zstd, 7),
		ours(release.Zstd, 19),
		ours(release.Gzip, 0),
		ours(release.Xz, 0),
	}
}

func timeIt(ctx context.Context, c contender, src, work string, runs int) (measure, error) {
	m := measure{name: c.name}
	for i := range max(runs, 1) {
		out := filepath.Join(work, fmt.Sprintf("out-%d", i))
		if err := os.MkdirAll(out, 0o755); err != nil {
			return m, err
		}
		start, cpu0 := time.Now(), benchkit.CPUSeconds()
		artifact, err := c.pack(ctx, src, out)
		secs, cpu := time.Since(start).Seconds(), benchkit.CPUSeconds()-cpu0
		if err != nil {
			return m, err
		}
		fi, err := os.Stat(artifact)
		if err != nil {
			return m, err
		}
		if i == 0 || secs < m.seconds {
			m.seconds, m.cpu = secs, cpu
		}
		m.bytes = fi.Size()
		if err := os.RemoveAll(out); err != nil {
			return m, err
		}
	}
	return m, nil
}

func report(w io.Writer, src string, results []measure) error {
	var unpacked int64
	files := 0
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				unpacked += fi.Size()
				files++
			}
		}
		return nil
	})
	fmt.Fprintf(w, "tree: %s (%.1f MB in %d regular files)\n\n", src, float64(unpacked)/1e6, files)
	base := results[0]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\tbytes\tseconds\tCPU seconds\tbytes vs tar -czf\ttime vs tar -czf\tCPU vs tar -czf\t")
	for _, m := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.2fx\t%.2fx\t%.2fx\t\n", m.name, m.bytes, m.seconds, m.cpu,
			float64(m.bytes)/float64(base.bytes), m.seconds/base.seconds, m.cpu/base.cpu)
	}
	return tw.Flush()
}
