package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// TestFaultTwoDeploysRace: two activations of different releases run at
// once against the same hosts, three rounds: started at the same moment,
// then the second 300 ms and 1 s after the first (each takes its locks in
// preflight, a few hundred ms in: the rounds cover both runs refused and
// one run winning). In each round
// a run either switches every host or is refused as a whole (exit 1,
// naming a host and the other run as the lock holder, nothing changed):
// never a mix. Every host ends on the same release, the one of the last
// run that succeeded; its history gained one entry per successful run and
// its last entry is its current; no lock is left; the load through the
// balancer sees no failed request.
func TestFaultTwoDeploysRace(t *testing.T) {
	b := actBed(t)
	s := actTiny{}
	s.ship(t, b, "base", false)
	if status, out := faultActivate(t, b, "base"); status != 0 {
		t.Fatalf("activate base: exit %d\n%s", status, out)
	}
	want := "base"
	for round, lag := range []time.Duration{0, 300 * time.Millisecond, time.Second} {
		ids := []string{fmt.Sprintf("ra%d", round+1), fmt.Sprintf("rb%d", round+1)}
		for _, id := range ids {
			s.ship(t, b, id, false)
		}
		want = raceRound(t, b, round+1, ids, lag, want)
	}
}

// raceRound runs the two activations of ids at once, the second lag
// after the first; was is where every host is before; it returns where
// every host is after.
func raceRound(t *testing.T, b *bed.Bed, round int, ids []string, lag time.Duration, was string) string {
	t.Helper()
	before := make([]int, len(b.Hosts))
	for i, h := range b.Hosts {
		before[i] = len(raceHistory(t, h))
	}
	load := actLoad(b, actTiny{}.chunks(was))
	runs := make([]*actRun, len(ids))
	urls := make([]string, len(ids))
	for i, id := range ids {
		runID := fmt.Sprintf("%d%d", round, i)
		urls[i] = "https://github.com/org/app/actions/runs/" + runID
		env := []string{"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=org/app", "GITHUB_RUN_ID=" + runID}
		if i > 0 {
			time.Sleep(lag)
		}
		runs[i] = faultStart(t, b, env, append([]string{"activate", "--release", id}, actFlags()...)...)
	}
	var won []string
	for i, r := range runs {
		status, out := faultWait(t, r, 5*time.Minute)
		t.Logf("round %d, activate %s: exit %d\n%s", round, ids[i], status, out)
		switch {
		case status == 0:
			won = append(won, ids[i])
		case status == 1 && strings.Contains(out, "held by") && strings.Contains(out, urls[1-i]) &&
			strings.Contains(out, "no host was changed") && namesAHost(b, out):
		default:
			t.Errorf("round %d, activate %s: exit %d; want 0, or 1 refused naming a host and the other run (%s) as the lock holder", round, ids[i], status, urls[1-i])
		}
	}
	t.Logf("round %d (second run %s later): succeeded %v", round, lag, won)
	faultStopLoad(t, fmt.Sprintf("round %d through the balancer", round), load)
	faultIntact(t, b.Hosts...)
	now := actCurrent(t, b, b.Hosts[0])
	for _, h := range b.Hosts[1:] {
		if cur := actCurrent(t, b, h); cur != now {
			t.Fatalf("round %d: a mix: %s on %s, %s on %s", round, now, b.Hosts[0].Name(), cur, h.Name())
		}
	}
	switch {
	case len(won) == 0 && now != was:
		t.Errorf("round %d: both runs refused but the hosts moved from %s to %s", round, was, now)
	case len(won) > 0 && !slices.Contains(won, now):
		t.Errorf("round %d: the hosts are on %s, want one of the runs that succeeded %v", round, now, won)
	}
	for i, h := range b.Hosts {
		hist := raceHistory(t, h)
		added := hist[before[i]:]
		if len(added) != len(won) {
			t.Errorf("round %d: %s's history gained %d entries for %d successful runs: %+v", round, h.Name(), len(added), len(won), added)
		}
		if len(hist) == 0 || hist[len(hist)-1].Release != now {
			t.Errorf("round %d: %s's last history entry is not its current %s: %+v", round, h.Name(), now, added)
		}
	}
	servesEverywhere(t, b, now)
	return now
}

// raceHistory reads h's activation history.
func raceHistory(t *testing.T, h *bed.Host) []release.Entry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(h.DeployPath, release.StateDir, release.HistoryFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []release.Entry
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if line == "" {
			continue
		}
		var e release.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: history line %q: %v", h.Name(), line, err)
		}
		out = append(out, e)
	}
	return out
}

func namesAHost(b *bed.Bed, out string) bool {
	for _, h := range b.Hosts {
		if strings.Contains(out, h.Addr) {
			return true
		}
	}
	return false
}
