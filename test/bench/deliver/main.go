// Command deliver compares next-deploy's delivery (pack to .tar.zst, then
// deliver.Inspect + deliver.Run) with what teams do by hand: scp of a
// `tar czf` tarball plus a remote `tar -xzf`, and rsync of the unpacked
// tree; each to the two hosts of the real test bed (test/bed), hosts in
// parallel, into a fresh directory per run. It prints the median of -runs
// runs per method and ratios to ours. It is a benchmark to read, not a
// test: nothing asserts a time.
//
//	sudo go run ./test/bench/deliver                    # the fixture's standalone build if there is one, else a synthetic tree
//	sudo go run ./test/bench/deliver -runs 5 -tree DIR  # or ND_BENCH_TREE=DIR
//
// The bed needs a *testing.T, which only the testing package can make, so
// main hands one function to testing.Main (which exits, after the bed's
// cleanup); the -test.* flags are accepted too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
	"github.com/org/next-deploy/test/bench/benchkit"
)

func main() {
	runs := flag.Int("runs", 3, "runs per method; the median counts")
	tree := flag.String("tree", os.Getenv("ND_BENCH_TREE"), "standalone tree to deliver (default $ND_BENCH_TREE, else the fixture's build, else synthetic)")
	benchkit.Main("BenchDeliver", func(ctx context.Context, t *testing.T) error {
		if *runs < 1 {
			return fmt.Errorf("-runs %d: want at least 1", *runs)
		}
		return bench(ctx, t, *runs, *tree)
	})
}

// method is one way of getting the tree onto every host. pack (nil: none)
// makes the artifact; send puts the tree at dir, under each host's home,
// and returns the bytes one host was sent.
type method struct {
	name string
	dir  string
	pack func(ctx context.Context, out string) (string, error)
	send func(ctx context.Context, art, dir string) (int64, error)
}

func bench(ctx context.Context, t *testing.T, runs int, tree string) error {
	b := bed.Start(t, bed.Options{Hosts: 2})
	src, desc, err := pickTree(tree, t.TempDir())
	if err != nil {
		return fmt.Errorf("tree %s: %w", tree, err)
	}
	files, size, err := countTree(src)
	if err != nil {
		return err
	}
	targets, err := inventory.Parse(b.HostsFlag())
	if err != nil {
		return err
	}
	d, err := remote.NewDialer(remote.SSHConfig{KnownHosts: b.KnownHosts, KeyFile: b.ClientKeyFile, ConnectTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	rsync := func(flags string) func(ctx context.Context, _, dir string) (int64, error) {
		return func(ctx context.Context, _, dir string) (int64, error) {
			return perHost(b, func(h *bed.Host) (int64, error) {
				o, err := benchkit.Command(ctx, "rsync", flags, "--stats", "--mkpath", "-e", "ssh -F "+b.SSHConfigFile, src+"/", h.Name()+":"+dir+"/")
				m := sentRe.FindStringSubmatch(o)
				if err != nil || m == nil {
					return 0, errors.Join(err, errors.New("no \"Total bytes sent\" in rsync --stats"))
				}
				return strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
			})
		}
	}
	methods := []method{
		{"ours: pack zst, Inspect+Run", "app/releases",
			func(ctx context.Context, out string) (string, error) {
				res, err := archive.Pack(ctx, archive.Options{Source: src, Release: "bench", Format: release.Zstd, OutputDir: out})
				if err != nil {
					return "", err
				}
				return res.Artifact, nil
			},
			func(ctx context.Context, art, dir string) (int64, error) {
				pool := remote.NewPool(d) // fresh: the SSH handshakes count, as they do for scp and rsync
				defer pool.Close()
				a, id, err := deliver.Inspect(ctx, art, path.Base(dir))
				if err != nil {
					return 0, err
				}
				_, err = deliver.Run(ctx, pool, targets, release.Layout{Root: "~/app"}, a, deliver.Options{Release: id})
				return a.Bytes, err
			}},
		{"tar czf, scp, ssh tar -xzf", "nd-scp",
			func(ctx context.Context, out string) (string, error) {
				art := filepath.Join(out, "bench.tar.gz")
				_, err := benchkit.Command(ctx, "tar", "czf", art, "-C", src, ".")
				return art, err
			},
			func(ctx context.Context, art, dir string) (int64, error) {
				fi, err := os.Stat(art)
				if err != nil {
					return 0, err
				}
				return perHost(b, func(h *bed.Host) (int64, error) {
					tgz := strings.ReplaceAll(dir, "/", "-") + ".tar.gz" // in the home, as by hand
					if _, err := benchkit.Command(ctx, "scp", "-q", "-F", b.SSHConfigFile, art, h.Name()+":"+tgz); err != nil {
						return 0, err
					}
					_, err := benchkit.Command(ctx, "ssh", "-F", b.SSHConfigFile, h.Name(), fmt.Sprintf("mkdir -p %[1]s && tar -xzf %[2]s -C %[1]s && rm %[2]s", dir, tgz))
					return fi.Size(), err
				})
			}},
		{"rsync -a", "nd-rsync-a", nil, rsync("-a")},
		{"rsync -az", "nd-rsync-az", nil, rsync("-az")},
	}
	fmt.Printf("tree: %s: %d files, %.1f MiB; 2 hosts in parallel; median of %d runs\n", desc, files, benchkit.MiB(size), runs)
	samples := make([][][4]float64, len(methods)) // pack s, deliver s, both, bytes per host
	for r := range runs {
		for i, m := range methods { // interleaved, so drift hits every method alike
			dir := fmt.Sprintf("%s/r%d", m.dir, r)
			var s [4]float64
			art, start := "", time.Now()
			if m.pack != nil {
				if art, err = m.pack(ctx, t.TempDir()); err != nil {
					return fmt.Errorf("%s: pack: %w", m.name, err)
				}
			}
			s[0], start = time.Since(start).Seconds(), time.Now()
			n, err := m.send(ctx, art, dir)
			if err != nil {
				return fmt.Errorf("%s: deliver: %w", m.name, err)
			}
			s[1] = time.Since(start).Seconds()
			s[2], s[3] = s[0]+s[1], float64(n)
			if err := check(b, dir, files); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	report(methods, samples)
	return nil
}

var sentRe = regexp.MustCompile(`Total bytes sent: ([\d,]+)`)

// check counts the regular files of each host's copy (ours adds its
// manifest), then removes the copy so disk use stays flat.
func check(b *bed.Bed, dir string, want int) error {
	for _, h := range b.Hosts {
		o, e, err := b.TryRunAs(h, `n=$(find "$1" -type f ! -path '*/.next-deploy/*' ! -path "$1/.next/cache/*" | wc -l) && rm -rf "$1" && echo $n`, dir)
		if err != nil {
			return fmt.Errorf("check %s:%s: %w: %s", h.Name(), dir, err, e)
		}
		if got, _ := strconv.Atoi(strings.TrimSpace(o)); got != want {
			return fmt.Errorf("%s:%s holds %d files, want %d", h.Name(), dir, got, want)
		}
	}
	return nil
}

// perHost runs fn on every host at once; it returns the mean of the counts.
func perHost(b *bed.Bed, fn func(h *bed.Host) (int64, error)) (int64, error) {
	ns, err := benchkit.PerHost(b, fn)
	var sum int64
	for _, n := range ns {
		sum += n
	}
	return sum / int64(len(ns)), err
}

func report(methods []method, samples [][][4]float64) {
	med := make([][4]float64, len(samples))
	for i, ss := range samples {
		for j := range 4 {
			v := make([]float64, len(ss))
			for k, s := range ss {
				v[k] = s[j]
			}
			slices.Sort(v)
			med[i][j] = v[len(v)/2]
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-28s\t", "method")
	fmt.Fprintln(tw, "pack\tdeliver\tpack+deliver\tMiB/host\tdeliver ×ours\ttotal ×ours\tbytes ×ours\t")
	for i, m := range med {
		pack := "-"
		if methods[i].pack != nil {
			pack = fmt.Sprintf("%.2fs", m[0])
		}
		fmt.Fprintf(tw, "%-28s\t%s\t%.2fs\t%.2fs\t%.2f\t%.2f\t%.2f\t%.2f\t\n", methods[i].name, pack, m[1], m[2], benchkit.MiB(int64(m[3])),
			m[1]/med[0][1], m[2]/med[0][2], m[3]/med[0][3])
	}
	tw.Flush()
	fmt.Printf("pack alone: ours (zst) %.2fs, tar czf %.2fs = %.2f× ours\n", med[0][0], med[1][0], med[1][0]/med[0][0])
}
