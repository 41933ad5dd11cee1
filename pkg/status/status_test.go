package status

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
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// seed makes, in a fresh deploy root on the local host, releases r1..r3
// delivered an hour apart, an incomplete one and an upload in flight, with
// r1, r2 and r3 activated in turn (current r3, previous r2).
func seed(t *testing.T) (release.Layout, string, remote.Host) {
	t.Helper()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "deploy root")
	l, h := release.Layout{Root: root}, remote.NewLocal()
	from := ""
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("r%d", i)
		at := t0.Add(time.Duration(i) * time.Hour)
		addRelease(t, root, id, at)
		if err := l.Record(ctx, h, release.Entry{Time: at.Add(time.Minute), Action: "activate", Release: id, From: from, Who: "ci"}); err != nil {
			t.Fatal(err)
		}
		from = id
	}
	if err := l.Switch(ctx, h, "r3"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"half", ".incoming-r4-x1"} {
		if err := os.MkdirAll(filepath.Join(root, "releases", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return l, root, h
}

func addRelease(t *testing.T, root, id string, at time.Time) {
	t.Helper()
	dir := filepath.Join(root, "releases", id)
	if err := os.MkdirAll(filepath.Join(dir, ".next-deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(release.Manifest{ID: id, SHA256: strings.Repeat("a", 64), Bytes: 10, Files: 1, Time: at})
	if err := os.WriteFile(filepath.Join(dir, release.ManifestPath), m, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakePM2 answers Workers with a fixed site and processes.
type fakePM2 struct {
	site  *pm2.Site
	procs []pm2.Proc
	err   error
}

func (f fakePM2) Workers(context.Context, remote.Host) (*pm2.Site, []pm2.Proc, error) {
	return f.site, f.procs, f.err
}

// samples is a memory report of n samples 10s apart from start, the heap
// growing by grow bytes each.
func samples(start time.Time, n int, heap0, grow int64) *pm2.Memory {
	m := &pm2.Memory{HeapLimit: 512 << 20}
	for i := range n {
		m.Samples = append(m.Samples, pm2.Sample{Time: start.Add(time.Duration(i) * 10 * time.Second),
			RSS: 100 << 20, HeapUsed: heap0 + int64(i)*grow, HeapTotal: 80 << 20})
	}
	m.Last = m.Samples[n-1]
	return m
}

func TestRead(t *testing.T) {
	l, root, h := seed(t)
	now := t0.Add(5 * time.Hour)
	site := &pm2.Site{Root: root, RealRoot: root}
	procs := []pm2.Proc{
		// Leaks 1 MiB every 10s over 10 minutes.
		{ID: 0, Name: "web", PID: 101, Status: "online", RealCwd: root + "/releases/r3", Restarts: 2,
			Started: now.Add(-90 * time.Minute), RSS: 1, Memory: samples(now.Add(-10*time.Minute), 60, 40<<20, 1<<20)},
		// No memory report, no start time, on an old release.
		{ID: 1, Name: "web", PID: 102, Status: "stopping", RealCwd: root + "/releases/r2/apps/web", RSS: 7 << 20},
	}
	for _, tc := range []struct {
		name    string
		history int
		want    []string
	}{
		{"no history", 0, nil},
		{"the last two, oldest first", 2, []string{"r2", "r3"}},
		{"more than there is", 9, []string{"r1", "r2", "r3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := Read(context.Background(), l, h, Options{PM2: fakePM2{site: site, procs: procs}, History: tc.history, Clock: clock.NewFake(now)})
			if err != nil {
				t.Fatal(err)
			}
			if hs.Current != "r3" || hs.Previous != "r2" {
				t.Errorf("current %q, previous %q; want r3, r2", hs.Current, hs.Previous)
			}
			var got []string
			for _, e := range hs.History {
				got = append(got, e.Release)
			}
			if !slices.Equal(got, tc.want) || hs.History == nil {
				t.Errorf("history %v, want %v (never null)", got, tc.want)
			}
			if len(hs.Workers) != 2 {
				t.Fatalf("%d workers, want 2", len(hs.Workers))
			}
			w0, w1 := hs.Workers[0], hs.Workers[1]
			if w0.App != "web" || w0.ID != "0" || w0.PID != 101 || w0.Release != "r3" || w0.Restarts != 2 || w0.Uptime != 90*time.Minute {
				t.Errorf("worker 0 = %+v", w0)
			}
			if w0.RSS != 100<<20 || w0.HeapUsed != 99<<20 || w0.HeapTotal != 80<<20 || w0.HeapLimit != 512<<20 {
				t.Errorf("worker 0 memory is not the report's last sample: %+v", w0)
			}
			if w0.Trend == nil || w0.Trend.Verdict != memtrend.Leak || !w0.Leaking() {
				t.Errorf("worker 0 trend = %+v, want a leak", w0.Trend)
			}
			if w1.Release != "r2" || w1.Uptime != 0 || w1.RSS != 7<<20 || w1.Trend != nil || w1.Leaking() {
				t.Errorf("worker 1 = %+v, want r2, pm2's RSS, no uptime, no trend", w1)
			}
		})
	}
}

// A worker younger than memtrend's MinAge gets no verdict, from pm2's
// start time (issue 16 item 5: 19 s after activate, status called a
// warm-up a leak).
func TestReadYoungWorker(t *testing.T) {
	l, root, h := seed(t)
	now := t0.Add(5 * time.Hour)
	procs := []pm2.Proc{{ID: 0, Name: "web", PID: 101, Status: "online", RealCwd: root + "/releases/r3",
		Started: now.Add(-19 * time.Second), Memory: samples(now.Add(-18*time.Second), 2, 40<<20, 20<<20)}}
	hs, err := Read(context.Background(), l, h, Options{PM2: fakePM2{site: &pm2.Site{Root: root, RealRoot: root}, procs: procs}, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	// Its age is at its newest sample, 8 s ago.
	w := hs.Workers[0]
	if w.Trend == nil || w.Trend.Verdict != memtrend.TooYoung || w.Leaking() || w.Trend.String() != "too young to judge (11s)" {
		t.Errorf("worker 19 s old: trend %+v (%v), want too young to judge (11s)", w.Trend, w.Trend)
	}
}

func TestReadPM2Fails(t *testing.T) {
	l, _, h := seed(t)
	boom := errors.New("pm2 status on local: pm2 not found")
	hs, err := Read(context.Background(), l, h, Options{PM2: fakePM2{err: boom}})
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want pm2's", err)
	}
	if hs.Current != "r3" {
		t.Errorf("current %q: what was read before the failure is lost", hs.Current)
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
	l, root, _ := seed(t)
	targets := []inventory.Target{{Host: "a", Port: 22}, {Host: "b", Port: 22}}
	o := Options{PM2: fakePM2{site: &pm2.Site{Root: root, RealRoot: root}}, History: 1, Parallel: 1}
	hs, err := Run(context.Background(), conn{down: map[string]bool{"b": true}}, targets, l, o)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 hosts could not be read") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error = %v, want one of two hosts unread, with its cause", err)
	}
	if len(hs) != 2 {
		t.Fatalf("%d answers, want 2", len(hs))
	}
	if hs[0].Host != targets[0].String() || hs[0].Path != root || hs[0].Err != nil || hs[0].Current != "r3" || len(hs[0].Workers) != 0 {
		t.Errorf("host a: %+v", hs[0])
	}
	if hs[1].Host != targets[1].String() || hs[1].Path != root || !strings.Contains(hs[1].Error, "connection refused") {
		t.Errorf("host b: %+v", hs[1])
	}
}

func TestReleases(t *testing.T) {
	l, root, _ := seed(t)
	targets := []inventory.Target{{Host: "a", Port: 22}, {Host: "b", Port: 22}}
	rs, err := Releases(context.Background(), conn{down: map[string]bool{"b": true}}, targets, l, 2)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 hosts could not be listed") {
		t.Errorf("error = %v, want one of two hosts unlisted", err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d answers, want 2", len(rs))
	}
	// Newest delivery first; half has no manifest, so its mtime (now) counts.
	a := rs[0]
	var got []string
	for _, r := range a.Releases {
		got = append(got, r.ID+":"+ReleaseState(r))
	}
	if want := []string{"half:incomplete", "r3:current", "r2:previous", "r1:"}; !slices.Equal(got, want) {
		t.Errorf("releases %v, want %v", got, want)
	}
	if a.Host != targets[0].String() || a.Path != root || a.Current != "r3" || a.Previous != "r2" || a.Incoming != 1 || a.Err != nil {
		t.Errorf("host a: %+v", a)
	}
	b := rs[1]
	if b.Err == nil || b.Releases == nil || len(b.Releases) != 0 || b.Path != root {
		t.Errorf("host b: %+v, want an error and an empty (not null) list", b)
	}
}

func TestReleaseState(t *testing.T) {
	for _, tc := range []struct {
		r    release.Release
		want string
	}{
		{release.Release{Complete: true, Current: true}, "current"},
		{release.Release{Complete: true, Previous: true}, "previous"},
		{release.Release{Complete: true, RolledBack: true}, "rolled back"},
		{release.Release{Complete: true}, ""},
		// A directory without a manifest is incomplete, even when current
		// points at it (someone made it by hand).
		{release.Release{Current: true}, "incomplete"},
	} {
		if got := ReleaseState(tc.r); got != tc.want {
			t.Errorf("ReleaseState(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
