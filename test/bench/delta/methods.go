package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/test/bench/benchkit"

	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
)

// method is one way of putting v2 on every host, next to v1.
type method struct {
	name string
	send func(ctx context.Context) (sample, error)
}

// sample is one run of a method; the counts are means over the hosts.
type sample struct {
	seconds float64
	bytes   float64 // on the wire, both ways, at the TCP level (SSH included)
	app     float64 // what the tool itself counted: ours Result.Bytes+Received, rsync --stats
	files   float64 // files sent
	linked  float64 // files a delta hard-linked from the base
	copied  float64 // files a delta copied from the base
	derived float64 // files a delta's host made from the base's with the new release id
	shared  float64 // files of v2 with more than one link, as found on the host
	inspect float64 // seconds of deliver.Inspect, included in seconds
	sent    float64 // bytes to the host (Result.Bytes)
}

// fleet is the bed with what deliver needs.
type fleet struct {
	b       *bed.Bed
	d       *remote.Dialer
	targets []inventory.Target // through the wires
	layout  release.Layout
	wires   *wires
	execs   *execs // the delta's bytes by what ran
}

// counted runs send and sets the sample's bytes to what crossed the
// wires meanwhile, per host.
func (f *fleet) counted(send func(ctx context.Context) (sample, error)) func(ctx context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		before := f.wires.total()
		s, err := send(ctx)
		s.bytes = float64(f.wires.total()-before) / float64(len(f.wires.byHost))
		return s, err
	}
}

// ours delivers v with deliver.Inspect and deliver.Run, as the CLI does,
// over fresh connections: the SSH handshakes count, as they do for rsync.
func (f *fleet) ours(v version, delta bool) func(ctx context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		start := time.Now()
		a, id, err := deliver.Inspect(ctx, v.art.Path, v.id)
		if err != nil {
			return sample{}, err
		}
		s := sample{inspect: time.Since(start).Seconds()}
		var ex *execs
		if delta {
			ex = f.execs
		}
		rs, err := f.run(ctx, a, id, delta, ex)
		if err != nil {
			return sample{}, err
		}
		for _, r := range rs {
			if delta && r.Mode != "delta" {
				return sample{}, fmt.Errorf("%s: no delta (%s): %s", r.Host, r.Mode, r.Fallback)
			}
			s.app += float64(r.Bytes + r.Received)
			s.sent += float64(r.Bytes)
			s.files += float64(r.SentFiles)
			s.linked += float64(r.Linked)
			s.copied += float64(r.Copied)
			s.derived += float64(r.Derived)
		}
		n := float64(len(rs))
		s.app, s.sent, s.files, s.linked, s.copied, s.derived = s.app/n, s.sent/n, s.files/n, s.linked/n, s.copied/n, s.derived/n
		return s, nil
	}
}

// run delivers over fresh connections; with ex, it counts what each
// script run took on the wire.
func (f *fleet) run(ctx context.Context, a deliver.Artifact, id string, delta bool, ex *execs) ([]deliver.Result, error) {
	pool := remote.NewPool(f.d)
	defer pool.Close()
	var conn deliver.Connector = pool
	if ex != nil {
		conn = ex.connector(pool)
	}
	rs, err := deliver.Run(ctx, conn, f.targets, f.layout, a, deliver.Options{Release: id, Delta: delta})
	if err != nil {
		return rs, fmt.Errorf("deliver %s: %w", id, err)
	}
	for _, r := range rs {
		if r.State != deliver.Delivered {
			return rs, fmt.Errorf("deliver %s to %s: %s", id, r.Host, r.State)
		}
	}
	return rs, nil
}

var (
	sentRe     = regexp.MustCompile(`Total bytes sent: ([\d,]+)`)
	receivedRe = regexp.MustCompile(`Total bytes received: ([\d,]+)`)
	filesRe    = regexp.MustCompile(`Number of regular files transferred: ([\d,]+)`)
)

// rsync copies v's tree (less what pack leaves out) to every host at
// once, next to v1, hard-linking what did not change: content compared
// by checksum, times not kept (a new build gives every file a new time).
func (f *fleet) rsync(v version) func(ctx context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		args := []string{"-a", "--no-times", "-c", "--stats", "--link-dest=../v1", "-e", "ssh -F " + f.wires.sshConfig}
		for _, x := range v.excluded {
			args = append(args, "--exclude=/"+x+"/")
		}
		ss, err := benchkit.PerHost(f.b, func(h *bed.Host) (sample, error) {
			o, err := benchkit.Command(ctx, "rsync", append(args, v.tree+"/", h.Name()+":app/releases/"+v.id+"/")...)
			if err != nil {
				return sample{}, err
			}
			var n [3]float64
			for i, re := range []*regexp.Regexp{sentRe, receivedRe, filesRe} {
				m := re.FindStringSubmatch(o)
				if m == nil {
					return sample{}, fmt.Errorf("rsync --stats: no %q in:\n%s", re, o)
				}
				v, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
				n[i] = float64(v)
			}
			return sample{app: n[0] + n[1], files: n[2]}, nil
		})
		var s sample
		for _, x := range ss {
			s.app += x.app / float64(len(ss))
			s.files += x.files / float64(len(ss))
		}
		return s, err
	}
}

// reset empties every host's deploy root and puts v1 there, whole, as
// current.
func (f *fleet) reset(ctx context.Context, v1 version) error {
	for _, h := range f.b.Hosts {
		if _, e, err := f.b.TryRunAs(h, `cd ~/app && rm -rf releases current .next-deploy`); err != nil {
			return fmt.Errorf("%s: %w: %s", h.Name(), err, e)
		}
	}
	if _, err := f.run(ctx, v1.art, v1.id, false, nil); err != nil {
		return err
	}
	for _, h := range f.b.Hosts {
		if _, e, err := f.b.TryRunAs(h, `ln -sfn releases/"$1" ~/app/current`, v1.id); err != nil {
			return fmt.Errorf("%s: %w: %s", h.Name(), err, e)
		}
	}
	return nil
}

// clear removes release id and its uploads from every host.
func (f *fleet) clear(id string) error {
	for _, h := range f.b.Hosts {
		if _, e, err := f.b.TryRunAs(h, `cd ~/app/releases && rm -rf "$1" ./.incoming-"$1"-*`, id); err != nil {
			return fmt.Errorf("%s: %w: %s", h.Name(), err, e)
		}
	}
	return nil
}

// hashTime prints how long sha256sum of every file of release id takes
// on each host, both hosts at once, the page cache warm: what a host's
// verification of an assembled tree costs at least.
func (f *fleet) hashTime(id string) error {
	ss, err := benchkit.PerHost(f.b, func(h *bed.Host) (sample, error) {
		o, e, err := f.b.TryRunAs(h, `cd ~/app/releases/"$1" && find . -type f -print0 | xargs -0 cat > /dev/null &&
s=$(date +%s%N) && find . -type f -print0 | xargs -0 sha256sum > /dev/null && echo $(( $(date +%s%N) - s ))`, id)
		if err != nil {
			return sample{}, fmt.Errorf("%w: %s", err, e)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(o), 10, 64)
		return sample{seconds: float64(ns) / 1e9}, err
	})
	if err != nil {
		return err
	}
	fmt.Printf("sha256sum of every file of %s on the hosts at once (warm cache): %.2fs, %.2fs\n", id, ss[0].seconds, ss[1].seconds)
	return nil
}

// listScript lists a release as find sees it (type, mode, size, links,
// link target, path), then every file's sha256; .next-deploy/ (the
// release's own records) left out.
const listScript = `cd ~/app/releases/"$1" || exit 1
find . -mindepth 1 -path ./.next-deploy -prune -o -printf '%y\t%m\t%s\t%n\t%l\t%P\n'
echo --
find . -mindepth 1 -path ./.next-deploy -prune -o -type f -print0 | xargs -0 -r sha256sum`

// check lists v's release on every host, independently of deliver's own
// verification, and compares it with v's file manifest: every path, type,
// mode, size, link target and sha256. It returns the mean count of files
// with more than one link.
func (f *fleet) check(v version) (float64, error) {
	want := string(v.art.FileList.Marshal())
	var shared float64
	for _, h := range f.b.Hosts {
		o, e, err := f.b.TryRunAs(h, listScript, v.id)
		if err != nil {
			return 0, fmt.Errorf("list %s:%s: %w: %s", h.Name(), v.id, err, e)
		}
		got, links, err := parseListing(o)
		if err != nil {
			return 0, fmt.Errorf("list %s:%s: %w", h.Name(), v.id, err)
		}
		if s := string(got.Marshal()); s != want {
			return 0, fmt.Errorf("%s:releases/%s differs from the artifact's tree:\n%s", h.Name(), v.id, diff(s, want))
		}
		shared += float64(links) / float64(len(f.b.Hosts))
	}
	return shared, nil
}

// parseListing makes a file manifest of listScript's output.
func parseListing(o string) (release.Files, int, error) {
	stat, sums, ok := strings.Cut(o, "\n--\n")
	if !ok {
		return nil, 0, errors.New("no separator in the listing")
	}
	hash := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(sums), "\n") {
		sum, p, ok := strings.Cut(l, "  ./")
		if !ok || len(sum) != 64 {
			return nil, 0, fmt.Errorf("sha256sum line %q", l)
		}
		hash[p] = sum
	}
	var files release.Files
	links := 0
	for _, l := range strings.Split(strings.TrimSpace(stat), "\n") {
		p := strings.SplitN(l, "\t", 6)
		if len(p) != 6 || len(p[0]) != 1 {
			return nil, 0, fmt.Errorf("find line %q", l)
		}
		mode, err1 := strconv.ParseUint(p[1], 8, 32)
		size, err2 := strconv.ParseInt(p[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, 0, fmt.Errorf("find line %q: %w", l, err)
		}
		e := release.FileEntry{Path: p[5], Type: p[0][0], Mode: modeOf(mode), Data: "-"}
		switch e.Type {
		case release.TypeFile:
			e.Size, e.Data = size, hash[e.Path]
			if p[3] != "1" {
				links++
			}
		case release.TypeSymlink:
			e.Data = p[4]
		case release.TypeDir:
		default:
			return nil, 0, fmt.Errorf("%s: type %s is neither file, directory nor symlink", e.Path, p[0])
		}
		files = append(files, e)
	}
	files.Sort()
	return files, links, nil
}

// diff is the lines only one of two listings has, at most 10 of each.
func diff(got, want string) string {
	only := func(a, b string) []string {
		in := map[string]bool{}
		for _, l := range strings.Split(b, "\n") {
			in[l] = true
		}
		var out []string
		for _, l := range strings.Split(a, "\n") {
			if !in[l] && len(out) < 10 {
				out = append(out, "  "+l)
			}
		}
		return out
	}
	return "on the host only:\n" + strings.Join(only(got, want), "\n") + "\nin the artifact only:\n" + strings.Join(only(want, got), "\n")
}
