// Command pack compares next-deploy's pack with `tar -czf` (gzip -6) on a
// real standalone tree and prints size and time side by side, as ratios to
// tar -czf. It is a benchmark to read, not a test: nothing asserts a time.
//
//	go run ./test/bench/pack                      # builds the fixture first (about a minute)
//	go run ./test/bench/pack --source DIR         # packs DIR (a standalone dir, static copied in)
//
// Target (issue #3): the default format at most 0.85x the bytes of tar
// -czf in at most 0.75x its time.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/org/next-deploy/test/bench/benchkit"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/static"
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
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pack", flag.ContinueOnError)
	source := fs.String("source", "", "standalone tree to pack; empty: build test/fixtures/next-app first")
	runs := fs.Int("runs", 3, "runs per contender; the fastest counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := *source
	if src == "" {
		if src, err = buildFixture(ctx, work, stderr); err != nil {
			return err
		}
	}
	if err := compare(ctx, stdout, src, work, *runs); err != nil {
		return err
	}
	// Native libraries (sharp's libvips alone is about half of a Next 16
	// standalone tree) compress alike with every compressor; the same
	// tree without them shows what the compressors do with the app's
	// JavaScript.
	js, err := withoutNative(work, src)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nthe same tree without native libraries (*.so*, *.node):")
	return compare(ctx, stdout, js, work, *runs)
}

func compare(ctx context.Context, stdout io.Writer, src, work string, runs int) error {
	var results []measure
	for _, c := range contenders() {
		m, err := timeIt(ctx, c, src, work, runs)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		results = append(results, m)
	}
	return report(stdout, src, results)
}

// withoutNative is a hard-linked copy of src without shared objects and
// Node addons.
func withoutNative(work, src string) (string, error) {
	dst := filepath.Join(work, "js-only")
	if b, err := exec.Command("cp", "-al", src, dst).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cp -al: %w: %s", err, b)
	}
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && (strings.Contains(d.Name(), ".so") || strings.HasSuffix(d.Name(), ".node")) {
			return os.Remove(p)
		}
		return err
	})
	return dst, err
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
		start := time.Now()
		artifact, err := c.pack(ctx, src, out)
		secs := time.Since(start).Seconds()
		if err != nil {
			return m, err
		}
		fi, err := os.Stat(artifact)
		if err != nil {
			return m, err
		}
		if i == 0 || secs < m.seconds {
			m.seconds = secs
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
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				unpacked += fi.Size()
			}
		}
		return nil
	})
	fmt.Fprintf(w, "tree: %s (%.1f MB in regular files)\n\n", src, float64(unpacked)/1e6)
	base := results[0]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\tbytes\tseconds\tbytes vs tar -czf\ttime vs tar -czf\t")
	for _, m := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.2fx\t%.2fx\t\n", m.name, m.bytes, m.seconds,
			float64(m.bytes)/float64(base.bytes), m.seconds/base.seconds)
	}
	return tw.Flush()
}

// buildFixture builds a copy of the fixture app and copies its static
// files in, like build-standalone and postbuild-copy-static do.
func buildFixture(ctx context.Context, work string, log io.Writer) (string, error) {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return "", err
	}
	app := filepath.Join(work, "next-app")
	// tar rather than cp: a local node_modules or .next in the fixture
	// stays behind.
	cp := exec.CommandContext(ctx, "sh", "-c", `tar -C "$1" --exclude=./node_modules --exclude=./.next -cf - . | tar -C "$2" -xf -`,
		"sh", filepath.Join(root, "test", "fixtures", "next-app"), app)
	if err := os.MkdirAll(app, 0o755); err != nil {
		return "", err
	}
	if b, err := cp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy fixture: %w: %s", err, b)
	}
	fmt.Fprintln(log, "building the fixture (npm ci, next build)...")
	if _, err := build.Build(ctx, build.Options{Dir: app, Release: "bench", Install: true, Environ: os.Environ(), Log: io.Discard}); err != nil {
		return "", err
	}
	res, err := static.Copy(app)
	if err != nil {
		return "", err
	}
	return res.Standalone, nil
}
