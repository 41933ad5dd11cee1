// Command delta measures a redeploy after a one-line change: the fixture
// app (test/fixtures/next-app) built as release v1, then with one line of a
// page changed as release v2 (the release id is the build id and the asset
// prefix, so the change reaches many files, as in real life). v1 is on
// the hosts of the real test bed (test/bed, -hosts, default 2) as current; v2 goes to all
// hosts in parallel by three methods:
//
//   - full: deliver.Run without delta, the whole artifact;
//   - delta: deliver.Run with Delta, only what differs from v1;
//   - rsync: rsync -a --no-times -c --link-dest=../v1 of the standalone
//     tree over the bed's ssh, as a team would redeploy by hand.
//
// It prints, side by side, the bytes on the wire per host, both ways,
// counted at the TCP level by a proxy in front of each host's sshd (SSH
// handshake, login and framing included; rsync's ssh goes through the
// same proxies), the wall time (median of -runs runs, the methods
// interleaved) and the ratios to full and to rsync, what the delta sent,
// derived (made on the host from the base's file with the new release
// id), linked and copied, and the delta's TCP bytes by what ran (the
// connection, each script: its command line, stdin, stdout and SSH's own).
// Each delivered tree is listed on the host (find and sha256sum) and
// compared with the v2 artifact's file manifest; a difference fails the
// command. Targets (issue 15 item 4): the delta's TCP bytes at most 1% of
// the artifact, its wall time at most 0.8x rsync's. It is a benchmark to
// read, not a test: nothing asserts a time.
//
//	sudo go run ./test/bench/delta -save /tmp/fixture     # builds the fixture twice first (minutes), keeps it
//	sudo go run ./test/bench/delta -v1 /tmp/fixture/tree-v1 -v2 /tmp/fixture/tree-v2 -runs 5
//
// A larger tree, thousands of node_modules files that v1 and v2 share
// (merged into both trees' node_modules):
//
//	mkdir /tmp/nm && cd /tmp/nm && echo '{"private":true}' > package.json &&
//	  npm install --no-audit --no-fund lodash@4.17.21 rxjs@7.8.1     # 3,346 files, 17 MB
//	sudo go run ./test/bench/delta -v1 /tmp/fixture/tree-v1 -v2 /tmp/fixture/tree-v2 -node-modules /tmp/nm/node_modules -runs 5
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
	"path/filepath"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
	"github.com/org/next-deploy/test/bench/benchkit"
)

func main() {
	runs := flag.Int("runs", 3, "runs per method; the median counts")
	v1 := flag.String("v1", "", "standalone tree of release v1 (static copied in); with -v2, instead of building the fixture")
	v2 := flag.String("v2", "", "standalone tree of release v2")
	save := flag.String("save", "", "build the fixture in this directory and keep it: its tree-v1 and tree-v2 serve -v1 and -v2 next time")
	hosts := flag.Int("hosts", 2, "hosts of the bed (1 to 64), all delivered to at once")
	modules := flag.String("node-modules", "", "a node_modules folder added to both trees (where they lack a path): a larger tree of many package files")
	benchkit.Main("BenchDelta", func(ctx context.Context, t *testing.T) error {
		if *runs < 1 {
			return fmt.Errorf("-runs %d: want at least 1", *runs)
		}
		if (*v1 == "") != (*v2 == "") {
			return errors.New("-v1 and -v2 go together")
		}
		if *hosts < 1 || *hosts > 64 {
			return fmt.Errorf("-hosts %d: want 1 to 64", *hosts)
		}
		return bench(ctx, t, opts{hosts: *hosts, runs: *runs, v1: *v1, v2: *v2, save: *save, modules: *modules})
	})
}

// version is one packed release.
type version struct {
	id, tree string
	excluded []string // what pack left out, relative to tree
	art      deliver.Artifact
}

// opts are the command's flags.
type opts struct {
	runs, hosts           int
	v1, v2, save, modules string
}

func bench(ctx context.Context, t *testing.T, o opts) error {
	work, runs, tree1, tree2 := t.TempDir(), o.runs, o.v1, o.v2
	if tree1 == "" {
		dir := work
		if o.save != "" {
			dir = o.save
		}
		var err error
		if tree1, tree2, err = buildFixture(ctx, dir); err != nil {
			return fmt.Errorf("build the fixture: %w", err)
		}
	}
	if o.modules != "" {
		var err error
		if tree1, tree2, err = withModules(ctx, work, o.modules, tree1, tree2); err != nil {
			return err
		}
	}
	v1, err := pack(ctx, "v1", tree1, work)
	if err != nil {
		return err
	}
	v2, err := pack(ctx, "v2", tree2, work)
	if err != nil {
		return err
	}
	b := bed.Start(t, bed.Options{Hosts: o.hosts})
	ws, err := startWires(b)
	if err != nil {
		return fmt.Errorf("start the counting proxies: %w", err)
	}
	defer ws.close()
	d, err := remote.NewDialer(remote.SSHConfig{KnownHosts: ws.knownHosts, KeyFile: b.ClientKeyFile, ConnectTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	f := &fleet{b: b, d: d, targets: ws.targets, layout: release.Layout{Root: "~/app"}, wires: ws, execs: newExecs(ws)}
	methods := []method{
		{name: "full (deliver, whole artifact)", send: f.counted(f.ours(v2, false))},
		{name: "delta (deliver --delta auto)", send: f.counted(f.ours(v2, true))},
		{name: "rsync -a -c --no-times --link-dest", send: f.counted(f.rsync(v2))},
	}
	if err := breakdown(ctx, v2, describe(v1, v2)); err != nil {
		return err
	}
	fmt.Printf("\nv2 to %d hosts in parallel, v1 current on each; median of %d runs, methods interleaved\n\n", o.hosts, runs)
	samples := make([][]sample, len(methods))
	for r := range runs {
		if err := f.reset(ctx, v1); err != nil {
			return fmt.Errorf("run %d: put v1 on the hosts: %w", r+1, err)
		}
		for k := range methods {
			i := (k + r) % len(methods) // interleaved, each first in turn: drift and caches hit every method alike
			m := methods[i]
			if err := f.clear(v2.id); err != nil {
				return err
			}
			start := time.Now()
			s, err := m.send(ctx)
			s.seconds = time.Since(start).Seconds()
			if err != nil {
				return fmt.Errorf("run %d: %s: %w", r+1, m.name, err)
			}
			if s.shared, err = f.check(v2); err != nil {
				return fmt.Errorf("run %d: %s: %w", r+1, m.name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	label := "the fixture"
	if o.modules != "" {
		label = "the fixture + node_modules"
	}
	report(methods, samples, v2.art.Bytes, fmt.Sprintf("%d hosts, %s", o.hosts, label))
	fmt.Printf("\nthe delta's TCP bytes by what ran, per host (mean of %d runs):\n\n", runs)
	f.execs.print(runs*len(b.Hosts), v2.art.Bytes)
	return f.hashTime(v1.id)
}

func pack(ctx context.Context, id, tree, work string) (version, error) {
	res, err := archive.Pack(ctx, archive.Options{Source: tree, Release: id, Format: release.Zstd, OutputDir: filepath.Join(work, "dist")})
	if err != nil {
		return version{}, fmt.Errorf("pack %s: %w", id, err)
	}
	a, _, err := deliver.Inspect(ctx, res.Artifact, id)
	if err != nil {
		return version{}, err
	}
	if len(a.FileList) == 0 {
		return version{}, errors.New("pack " + id + ": empty file manifest")
	}
	return version{id: id, tree: tree, excluded: res.Excluded, art: a}, nil
}
