package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPlanPrune(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * day) }
	rel := func(id string, deliveredDaysAgo int, complete bool) Release {
		return Release{ID: id, Complete: complete, DeliveredAt: ago(deliveredDaysAgo), DiskBytes: 100}
	}
	st := &State{
		Releases: []Release{rel("new", 1, true), rel("cur", 2, true), rel("b2", 10, true), rel("c3", 11, true),
			rel("d4", 12, true), rel("old", 30, true), rel("prev", 31, true), rel("half", 40, false), rel("act", 50, true), rel("busy", 60, true)},
		Current:  "cur",
		Previous: "prev",
		// old was delivered long ago but was current until 3 days ago: by
		// use it is newer than b2, c3, d4 and among the newest 3 with new
		// and cur (SHA ids do not sort by time).
		History: []Entry{
			{Time: ago(29), Release: "old"},
			{Time: ago(3), Release: "cur", From: "old"},
		},
	}
	for _, tc := range []struct {
		name   string
		o      PruneOptions
		remove string
	}{
		{"keep 3", PruneOptions{Keep: 3, Protect: []string{"act"}, Now: now}, "b2,c3,d4"},
		{"keep 1", PruneOptions{Keep: 1, Protect: []string{"act"}, Now: now}, "old,b2,c3,d4"},
		{"keep 1, 11 days", PruneOptions{Keep: 1, KeepFor: 11*day + time.Hour, Protect: []string{"act"}, Now: now}, "d4"},
		{"nothing protected", PruneOptions{Keep: 3, Now: now}, "b2,c3,d4,act"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanPrune(st, []string{"busy"}, tc.o)
			if got := strings.Join(p.Remove, ","); got != tc.remove {
				t.Errorf("remove = %s, want %s (kept %+v)", got, tc.remove, p.Keep)
			}
			why := map[string]string{}
			for _, k := range p.Keep {
				why[k.ID] = k.Why
			}
			for id, want := range map[string]string{"cur": "current", "prev": "previous", "busy": "in use", "half": "incomplete"} {
				if !strings.Contains(why[id], want) {
					t.Errorf("%s kept as %q, want %q", id, why[id], want)
				}
			}
			if p.Freed != int64(100*len(p.Remove)) {
				t.Errorf("freed %d for %d releases", p.Freed, len(p.Remove))
			}
		})
	}
}

// A release a rollback left goes first, though it was used more recently
// than the others (issue 13: prune removes marked releases first).
func TestPlanPruneRemovesRolledBackFirst(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rel := func(id string, daysAgo int) Release {
		return Release{ID: id, Complete: true, DeliveredAt: now.Add(-time.Duration(daysAgo) * 24 * time.Hour)}
	}
	st := &State{
		Releases: []Release{rel("r4", 1), rel("r3", 2), rel("r2", 3), rel("r1", 4)},
		Current:  "r2",
		History: []Entry{
			{Action: ActionActivate, Release: "r1", Time: now.Add(-96 * time.Hour)},
			{Action: ActionActivate, From: "r1", Release: "r2", Time: now.Add(-72 * time.Hour)},
			{Action: ActionActivate, From: "r2", Release: "r3", Time: now.Add(-48 * time.Hour)},
			{Action: ActionActivate, From: "r3", Release: "r4", Time: now.Add(-24 * time.Hour)},
			{Action: ActionRollback, From: "r4", Release: "r3", Time: now.Add(-2 * time.Hour)},
			{Action: ActionRollback, From: "r3", Release: "r2", Time: now.Add(-time.Hour)},
		},
	}
	st.Previous = Previous(st.History, st.Current, st.Has)
	if st.Previous != "r1" {
		t.Fatalf("previous = %q, want r1", st.Previous)
	}
	p := PlanPrune(st, nil, PruneOptions{Keep: 3, Now: now})
	if got := strings.Join(p.Remove, ","); got != "r4" {
		t.Errorf("keep 3 removes %s, want r4 (rolled back, newest by use but first to go)", got)
	}
	p = PlanPrune(st, nil, PruneOptions{Keep: 2, Now: now})
	if got := strings.Join(p.Remove, ","); got != "r3,r4" {
		t.Errorf("keep 2 removes %s, want r3,r4", got)
	}
}

func TestRemoveInUseAndCleanStaleOnLocal(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"a1", "b2", "c3"} {
		addRelease(t, root, id, true, t0)
	}
	if err := l.Switch(ctx, h, "c3"); err != nil {
		t.Fatal(err)
	}
	// A process running in b2, like a pm2 worker left on an old release.
	cmd := exec.Command("sleep", "30")
	cmd.Dir = filepath.Join(root, "releases", "b2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	inUse, err := l.InUse(ctx, h)
	if err != nil || strings.Join(inUse, ",") != "b2" {
		t.Errorf("InUse = %v, %v; want [b2]", inUse, err)
	}
	if err := l.Remove(ctx, h, []string{"c3"}); err == nil || !strings.Contains(err.Error(), "current") {
		t.Errorf("removing current = %v, want refused", err)
	}
	if err := l.Remove(ctx, h, []string{"../x"}); err == nil {
		t.Error("an invalid id was accepted")
	}
	if err := l.Remove(ctx, h, []string{"a1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", "a1")); !os.IsNotExist(err) {
		t.Errorf("a1 still there: %v", err)
	}
	old := filepath.Join(root, "releases", ".incoming-d4-x1")
	young := filepath.Join(root, "releases", ".incoming-e5-x2")
	cut := filepath.Join(root, "releases", ".removing-f6-99")
	for _, d := range []string{old, young, cut} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(old, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := l.CleanStale(ctx, h, time.Hour)
	if err != nil || n != 2 {
		t.Errorf("CleanStale = %d, %v; want 2 (the old upload, the cut removal)", n, err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a young upload was removed: %v", err)
	}
}
