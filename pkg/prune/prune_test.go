package prune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// day0 is long past, so a rule that read the wall clock instead of
// Options.Clock would see every release as old.
var day0 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return day0.Add(time.Duration(n) * 24 * time.Hour) }

// seed makes, in a fresh deploy root on the local host, what deliver and
// activate leave: complete releases r1..r5 delivered on days 1..5, an
// incomplete one, r3 activated on day 3 and r4 on day 4 (current r4,
// previous r3), an upload abandoned two hours ago and one in flight.
func seed(t *testing.T) (release.Layout, string, remote.Host) {
	t.Helper()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "deploy root")
	l, h := release.Layout{Root: root}, remote.NewLocal()
	for i := 1; i <= 5; i++ {
		addRelease(t, root, fmt.Sprintf("r%d", i), day(i))
	}
	if err := os.MkdirAll(filepath.Join(root, "releases", "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range []release.Entry{
		{Time: day(3).Add(12 * time.Hour), Action: "activate", Release: "r3"},
		{Time: day(4).Add(12 * time.Hour), Action: "activate", Release: "r4", From: "r3"},
	} {
		if err := l.Record(ctx, h, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Switch(ctx, h, "r4"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".incoming-r6-old", ".incoming-r7-new"} {
		if err := os.MkdirAll(filepath.Join(root, "releases", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(root, "releases", ".incoming-r6-old"), old, old); err != nil {
		t.Fatal(err)
	}
	return l, root, h
}

func addRelease(t *testing.T, root, id string, at time.Time) {
	t.Helper()
	dir := filepath.Join(root, "releases", id)
	if err := os.MkdirAll(filepath.Join(dir, ".next-deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.js"), []byte("// "+id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(release.Manifest{ID: id, SHA256: strings.Repeat("a", 64), Bytes: 10, Files: 1, Time: at})
	if err := os.WriteFile(filepath.Join(dir, release.ManifestPath), m, 0o644); err != nil {
		t.Fatal(err)
	}
}

// onDisk lists the entries of releases/.
func onDisk(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestHost(t *testing.T) {
	all := []string{".incoming-r6-old", ".incoming-r7-new", "half", "r1", "r2", "r3", "r4", "r5"}
	for _, tc := range []struct {
		name      string
		o         Options
		removed   []string
		stale     int
		left      []string
		keptWhy   map[string]string
		wantFreed bool
	}{
		{
			name:    "keep 2: current, previous and the protected one stay",
			o:       Options{Keep: 2, Release: "r1", StaleAfter: time.Hour},
			removed: []string{"r2"}, stale: 1,
			left:    []string{".incoming-r7-new", "half", "r1", "r3", "r4", "r5"},
			keptWhy: map[string]string{"r1": "being activated", "r3": "previous", "r4": "current", "r5": "newest 2", "half": "incomplete"},
		},
		{
			name:    "dry run removes nothing, not even stale uploads",
			o:       Options{Keep: 1, DryRun: true, StaleAfter: time.Hour},
			removed: []string{"r2", "r1"},
			left:    all,
		},
		{
			// Regression: the days rule counted back from time.Now(), so
			// a fake clock could not pin it.
			name:    "keep-for counts back from the clock",
			o:       Options{Keep: 1, KeepFor: 5 * 24 * time.Hour, Clock: clock.NewFake(day(6)), StaleAfter: time.Hour},
			removed: []string{"r1"}, stale: 1,
			left:    []string{".incoming-r7-new", "half", "r2", "r3", "r4", "r5"},
			keptWhy: map[string]string{"r2": "used within"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root, h := seed(t)
			r, err := Host(context.Background(), l, h, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Removed, tc.removed) {
				t.Errorf("removed = %v, want %v", r.Removed, tc.removed)
			}
			if r.Stale != tc.stale || r.DryRun != tc.o.DryRun {
				t.Errorf("stale = %d, dry run = %v; want %d, %v", r.Stale, r.DryRun, tc.stale, tc.o.DryRun)
			}
			if (r.Freed > 0) != (len(tc.removed) > 0) {
				t.Errorf("freed %d bytes for %v", r.Freed, tc.removed)
			}
			if got := onDisk(t, root); !slices.Equal(got, tc.left) {
				t.Errorf("left on disk %v, want %v", got, tc.left)
			}
			why := map[string]string{}
			for _, k := range r.Kept {
				why[k.ID] = k.Why
			}
			for id, want := range tc.keptWhy {
				if !strings.Contains(why[id], want) {
					t.Errorf("%s kept as %q, want %q", id, why[id], want)
				}
			}
			if _, err := os.Stat(filepath.Join(root, ".next-deploy", "lock")); !os.IsNotExist(err) {
				t.Errorf("deploy lock left behind: %v", err)
			}
		})
	}
}

func TestHostLocked(t *testing.T) {
	l, root, h := seed(t)
	ctx := context.Background()
	k, err := l.Acquire(ctx, h, "alice@laptop", "", 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Unlock(ctx)
	r, err := Host(ctx, l, h, Options{Keep: 1, StaleAfter: time.Hour, Who: "bob@ci"})
	var le *release.LockedError
	if !errors.As(err, &le) || le.Holder.Who != "alice@laptop" {
		t.Fatalf("Host under another's lock = %v, want a LockedError naming alice", err)
	}
	if len(r.Removed) != 0 || len(onDisk(t, root)) != 8 {
		t.Errorf("removed %v (left %v) under another's lock", r.Removed, onDisk(t, root))
	}
}

// conn is a Connector over the local host; targets named in down fail to
// connect.
type conn struct{ down map[string]bool }

func (c conn) Get(_ context.Context, t inventory.Target) (remote.Host, error) {
	if c.down[t.Host] {
		return nil, fmt.Errorf("connect to %s: connection refused", t)
	}
	return remote.NewLocal(), nil
}

func TestRunReportsEveryHost(t *testing.T) {
	l, _, _ := seed(t)
	targets := []inventory.Target{{Host: "a", Port: 22}, {Host: "b", Port: 22}}
	rs, err := Run(context.Background(), conn{down: map[string]bool{"b": true}}, targets, l, Options{Keep: 2, StaleAfter: time.Hour, Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), "prune failed on 1 of 2 hosts") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error = %v, want one of two hosts failed, with its cause", err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2", len(rs))
	}
	if rs[0].Host != targets[0].String() || rs[0].Err != nil || !slices.Equal(rs[0].Removed, []string{"r2", "r1"}) {
		t.Errorf("host a: %+v", rs[0])
	}
	if rs[1].Host != targets[1].String() || rs[1].Err == nil || !strings.Contains(rs[1].Error, "connection refused") {
		t.Errorf("host b: %+v", rs[1])
	}
}

func TestRemoved(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   [][]string
		want []string
	}{
		{"none", nil, nil},
		{"one host", [][]string{{"a", "b"}}, []string{"a", "b"}},
		{"shared ids once, in host order", [][]string{{"b", "a"}, {}, {"a", "c"}}, []string{"b", "a", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []Result
			for _, ids := range tc.in {
				rs = append(rs, Result{Removed: ids})
			}
			if got := Removed(rs); !slices.Equal(got, tc.want) {
				t.Errorf("Removed = %v, want %v", got, tc.want)
			}
		})
	}
}

// Regression (issue 13): prune --dry-run created <path>/.next-deploy (the
// lock) on a path that did not exist. A dry run writes nothing at all.
func TestDryRunWritesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	l := release.Layout{Root: root}
	_, _ = Host(context.Background(), l, remote.NewLocal(), Options{Keep: 1, DryRun: true, StaleAfter: time.Hour})
	if _, err := os.Lstat(root); !os.IsNotExist(err) {
		t.Errorf("a dry run on a missing path made %s (%v)", root, err)
	}
}
