package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
	"github.com/org/next-deploy/test/bench/benchkit"
)

// method is one way of getting the tree onto every host. pack (nil: none)
// makes the artifact; send puts the tree at dir, under the home of each
// of hosts, all at once, and returns the bytes one host was sent.
type method struct {
	name string
	dir  string
	pack func(ctx context.Context, out string) (string, error)
	send func(ctx context.Context, art, dir string, hs []*bed.Host) (int64, error)
}

// The methods, ours first and scp + tar second: the ratios are to it.
const (
	ours = 0
	scp  = 1
)

func methods(b *bed.Bed, src string, rsync bool) ([]method, error) {
	d, err := remote.NewDialer(remote.SSHConfig{KnownHosts: b.KnownHosts, KeyFile: b.ClientKeyFile, ConnectTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	ms := []method{
		{"ours: pack zst, Inspect+Run", "app/releases",
			func(ctx context.Context, out string) (string, error) {
				res, err := archive.Pack(ctx, archive.Options{Source: src, Release: "bench", Format: release.Zstd, OutputDir: out})
				if err != nil {
					return "", err
				}
				return res.Artifact, nil
			},
			func(ctx context.Context, art, dir string, hs []*bed.Host) (int64, error) {
				return sendOurs(ctx, d, art, dir, hs)
			}},
		{"tar czf, scp, ssh tar -xzf", "nd-scp",
			func(ctx context.Context, out string) (string, error) {
				art := filepath.Join(out, "bench.tar.gz")
				_, err := benchkit.Command(ctx, "tar", "czf", art, "-C", src, ".")
				return art, err
			},
			func(ctx context.Context, art, dir string, hs []*bed.Host) (int64, error) {
				fi, err := os.Stat(art)
				if err != nil {
					return 0, err
				}
				return perHost(hs, func(h *bed.Host) (int64, error) {
					tgz := strings.ReplaceAll(dir, "/", "-") + ".tar.gz" // in the home, as by hand
					if _, err := benchkit.Command(ctx, "scp", "-q", "-F", b.SSHConfigFile, art, h.Name()+":"+tgz); err != nil {
						return 0, err
					}
					_, err := benchkit.Command(ctx, "ssh", "-F", b.SSHConfigFile, h.Name(), fmt.Sprintf("mkdir -p %[1]s && tar -xzf %[2]s -C %[1]s && rm %[2]s", dir, tgz))
					return fi.Size(), err
				})
			}},
	}
	if rsync {
		ms = append(ms, method{"rsync -a", "nd-rsync-a", nil, rsyncWith(b, src, "-a")}, method{"rsync -az", "nd-rsync-az", nil, rsyncWith(b, src, "-az")})
	}
	return ms, nil
}

// sendOurs delivers the artifact to hs over a fresh pool (the SSH
// handshakes count, as they do for scp and rsync), every host at once.
func sendOurs(ctx context.Context, d *remote.Dialer, art, dir string, hs []*bed.Host) (int64, error) {
	list := make([]string, len(hs))
	for i, h := range hs {
		list[i] = h.Target()
	}
	targets, err := inventory.Parse(strings.Join(list, ","))
	if err != nil {
		return 0, err
	}
	pool := remote.NewPool(d)
	defer pool.Close()
	a, id, err := deliver.Inspect(ctx, art, path.Base(dir))
	if err != nil {
		return 0, err
	}
	rs, err := deliver.Run(ctx, pool, targets, release.Layout{Root: "~/app"}, a, deliver.Options{Release: id, Parallel: len(hs)})
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, r := range rs {
		sum += r.Bytes
	}
	return sum / int64(len(rs)), nil
}

var sentRe = regexp.MustCompile(`Total bytes sent: ([\d,]+)`)

func rsyncWith(b *bed.Bed, src, flags string) func(ctx context.Context, _, dir string, hs []*bed.Host) (int64, error) {
	return func(ctx context.Context, _, dir string, hs []*bed.Host) (int64, error) {
		return perHost(hs, func(h *bed.Host) (int64, error) {
			o, err := benchkit.Command(ctx, "rsync", flags, "--stats", "--mkpath", "-e", "ssh -F "+b.SSHConfigFile, src+"/", h.Name()+":"+dir+"/")
			m := sentRe.FindStringSubmatch(o)
			if err != nil || m == nil {
				return 0, errors.Join(err, errors.New("no \"Total bytes sent\" in rsync --stats"))
			}
			return strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		})
	}
}

// check counts the regular files of each host's copy (ours adds its
// manifest), then removes the copy so disk use stays flat.
func check(b *bed.Bed, hs []*bed.Host, dir string, want int) error {
	for _, h := range hs {
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

// perHost runs fn on every host of hs at once; it returns the mean of the
// counts.
func perHost(hs []*bed.Host, fn func(h *bed.Host) (int64, error)) (int64, error) {
	ns, errs := make([]int64, len(hs)), make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			ns[i], errs[i] = fn(h)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", h.Name(), errs[i])
			}
		})
	}
	wg.Wait()
	var sum int64
	for _, n := range ns {
		sum += n
	}
	return sum / int64(len(ns)), errors.Join(errs...)
}
