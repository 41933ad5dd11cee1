package release

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/remote"
)

// PruneOptions say what prune keeps.
type PruneOptions struct {
	// Keep is the number of newest complete releases kept (at least 1).
	Keep int
	// KeepFor keeps, besides, every release used within this long (0: no
	// such rule).
	KeepFor time.Duration
	// Protect are releases never removed (the one being activated).
	Protect []string
	// Now is the time KeepFor counts back from.
	Now time.Time
}

// Kept is a release prune keeps, and why.
type Kept struct {
	ID  string `json:"id"`
	Why string `json:"why"`
}

// PrunePlan is what prune removes and keeps on one host.
type PrunePlan struct {
	Remove []string `json:"remove"`
	Keep   []Kept   `json:"keep"`
	// Freed is the disk space of the releases removed.
	Freed int64 `json:"freed_bytes"`
}

// LastUsed is when a release was last delivered or current: its delivery,
// or the last switch to it, or the last switch away from it, whichever is
// newest. Prune orders releases by it (ids do not sort by time).
func LastUsed(st *State, id string) time.Time {
	var t time.Time
	if r := st.Find(id); r != nil {
		t = r.DeliveredAt
	}
	for _, e := range st.History {
		if (e.Release == id || e.From == id) && e.Time.After(t) {
			t = e.Time
		}
	}
	return t
}

// PlanPrune decides what to remove: never current, the previous release,
// a protected one, one a process runs in (inUse), or an incomplete one
// (not made by next-deploy's delivery); of the rest, the newest Keep by
// LastUsed stay, and those used within KeepFor. A release a rollback left
// (RolledBack) counts as older than every other: it is the first to go.
func PlanPrune(st *State, inUse []string, o PruneOptions) PrunePlan {
	why := map[string]string{}
	if st.Current != "" {
		why[st.Current] = "current"
	}
	if st.Previous != "" && why[st.Previous] == "" {
		why[st.Previous] = "previous"
	}
	for _, id := range o.Protect {
		if why[id] == "" {
			why[id] = "being activated"
		}
	}
	for _, id := range inUse {
		if why[id] == "" {
			why[id] = "in use by a running process"
		}
	}
	rels := append([]Release(nil), st.Releases...)
	marked := RolledBack(st.History)
	sort.SliceStable(rels, func(i, j int) bool {
		if mi, mj := marked[rels[i].ID], marked[rels[j].ID]; mi != mj {
			return mj
		}
		a, b := LastUsed(st, rels[i].ID), LastUsed(st, rels[j].ID)
		if !a.Equal(b) {
			return a.After(b)
		}
		return rels[i].ID > rels[j].ID
	})
	var plan PrunePlan
	newest := 0
	for _, r := range rels {
		w := why[r.ID]
		switch {
		case w != "":
		case !r.Complete:
			w = "incomplete: not made by next-deploy deliver, left alone"
		case newest < o.Keep:
			w = "among the newest " + strconv.Itoa(o.Keep)
		case o.KeepFor > 0 && o.Now.Sub(LastUsed(st, r.ID)) < o.KeepFor:
			w = "used within " + clock.Format(o.KeepFor)
		}
		if r.Complete {
			newest++
		}
		if w != "" {
			plan.Keep = append(plan.Keep, Kept{ID: r.ID, Why: w})
			continue
		}
		plan.Remove = append(plan.Remove, r.ID)
		plan.Freed += r.DiskBytes
	}
	return plan
}

// InUse lists the releases some process of the login runs in.
func (l Layout) InUse(ctx context.Context, h remote.Host) ([]string, error) {
	out, err := l.run(ctx, h, "list releases in use", inUseScript)
	if err != nil {
		return nil, err
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Remove deletes releases from the host. Run it under the deploy lock.
func (l Layout) Remove(ctx context.Context, h remote.Host, ids []string) error {
	for _, id := range ids {
		if err := ValidID(id); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := l.run(ctx, h, "remove releases "+strings.Join(ids, " "), removeScript, ids...)
	return err
}

// DefaultStaleAfter is how long an upload must have been abandoned before
// deliver or prune removes it, by default (--stale-after).
const DefaultStaleAfter = 2 * time.Hour

// CleanStale removes the uploads (.incoming-*) abandoned for longer than
// staleAfter, and leftovers of cut removals; it returns how many it
// removed. An upload whose holder still runs on the host is never
// abandoned; otherwise its age is its heartbeat's (lease.sh).
func (l Layout) CleanStale(ctx context.Context, h remote.Host, staleAfter time.Duration) (int, error) {
	out, err := l.run(ctx, h, "remove stale uploads", cleanScript, seconds(staleAfter))
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("remove stale uploads on %s: unexpected answer %q", h.Name(), out)
	}
	return n, nil
}

// seconds is d in whole seconds, for a script.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10)
}
