package barrier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

const (
	testID   = "abc1234"
	testSum  = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	otherSum = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
)

func stateWith(incoming int, rels ...release.Release) *release.State {
	return &release.State{Releases: rels, Incoming: incoming}
}

func complete(id, sum string) release.Release {
	return release.Release{ID: id, Complete: true, Manifest: &release.Manifest{ID: id, SHA256: sum}}
}

func TestJudgeHost(t *testing.T) {
	hk := &remote.HostKeyError{Host: "deploy@b:22", Addr: "b:22", Changed: true, Got: "SHA256:x", Want: []string{"SHA256:y"}}
	for _, tc := range []struct {
		name string
		st   *release.State
		err  error
		sum  string
		want Member
	}{
		{"complete", stateWith(0, complete(testID, testSum)), nil, "",
			Member{Name: "h", State: Ready, Detail: "complete"}},
		{"checksum matches, in any case", stateWith(0, complete(testID, strings.ToUpper(testSum))), nil, testSum,
			Member{Name: "h", State: Ready, Detail: "complete, sha256 matches"}},
		{"another artifact under the same id", stateWith(0, complete(testID, otherSum)), nil, testSum,
			Member{Name: "h", State: Failed, Detail: "holds release abc1234 from another artifact: sha256 " + otherSum + ", want " + testSum}},
		{"incomplete", stateWith(0, release.Release{ID: testID}), nil, "",
			Member{Name: "h", State: Waiting, Detail: "release abc1234 incomplete (no manifest yet)"}},
		{"upload in flight", stateWith(1, complete("old1234", otherSum)), nil, "",
			Member{Name: "h", State: Waiting, Detail: "no release abc1234 yet (an upload is in progress, or was abandoned)"}},
		{"absent", stateWith(0), nil, testSum,
			Member{Name: "h", State: Waiting, Detail: "no release abc1234 yet"}},
		{"unreachable for a moment", nil, errors.New("connect to deploy@b:22: connection refused"), "",
			Member{Name: "h", State: Waiting, Detail: "unreachable, retrying: connect to deploy@b:22: connection refused"}},
		{"host key not vouched for", nil, fmt.Errorf("connect: %w", hk), "",
			Member{Name: "h", State: Failed, Detail: "connect: " + hk.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := judgeHost("h", tc.st, tc.err, testID, tc.sum); got != tc.want {
				t.Errorf("judgeHost:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// fakeFleet answers State for each host from a script of rounds; it
// counts the looks each host got.
type fakeFleet struct {
	mu     sync.Mutex
	rounds map[string][]*release.State // nil entry: unreachable
	looks  map[string]int
}

func (f *fakeFleet) state(_ context.Context, t inventory.Target) (*release.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.rounds[t.Host]
	st := rs[min(f.looks[t.Host], len(rs)-1)]
	f.looks[t.Host]++
	if st == nil {
		return nil, fmt.Errorf("connect to %s: connection refused", t)
	}
	return st, nil
}

func targets(t *testing.T, s string) []inventory.Target {
	t.Helper()
	ts, err := inventory.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestHostsPollLooksOnlyAtHostsNotReady(t *testing.T) {
	have, none := stateWith(0, complete(testID, testSum)), stateWith(0)
	f := &fakeFleet{
		rounds: map[string][]*release.State{
			"a": {have},
			"b": {none, nil, have},
			"c": {nil, none, none, have},
		},
		looks: map[string]int{},
	}
	p := Hosts(HostsOptions{Targets: targets(t, "deploy@a,deploy@b,deploy@c"), Parallel: 2,
		Release: testID, SHA256: testSum, state: f.state})
	var got [][]string
	for range 4 {
		st, err := p.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st.Names(Waiting))
	}
	want := [][]string{
		{"deploy@b:22", "deploy@c:22"},
		{"deploy@b:22", "deploy@c:22"},
		{"deploy@c:22"},
		nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("waiting per round:\n got %q\nwant %q", got, want)
	}
	// A complete release is immutable: a ready host is not asked again.
	if wantLooks := map[string]int{"a": 1, "b": 3, "c": 4}; !reflect.DeepEqual(f.looks, wantLooks) {
		t.Errorf("looks %v, want %v", f.looks, wantLooks)
	}
}

// writeRelease makes root hold release id as deliver leaves it.
func writeRelease(t *testing.T, root, id, sum string) {
	t.Helper()
	dir := filepath.Join(root, release.ReleasesDir, id, ".next-deploy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(release.Manifest{ID: id, SHA256: sum, Time: time.Unix(1_700_000_000, 0).UTC()})
	if err := os.WriteFile(filepath.Join(dir, "release.json"), m, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The local host runs the same state script as an SSH host would.
func TestHostsLocal(t *testing.T) {
	root := t.TempDir()
	layout, err := release.NewLayout(root)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(nil)
	t.Cleanup(func() { pool.Close() })
	p := Hosts(HostsOptions{Targets: targets(t, "local"), Parallel: 8, PerHost: time.Minute,
		Layout: layout, Pool: pool, Release: testID, SHA256: testSum})
	if want := "release abc1234 in " + root; p.Title != want {
		t.Errorf("Title = %q, want %q", p.Title, want)
	}
	wait := func() (Status, []string, error) {
		var said []string
		st, err := Wait(context.Background(), p, Options{Timeout: time.Minute, Interval: 20 * time.Second,
			Clock: clock.NewFake(time.Unix(1_700_000_000, 0)), Say: func(l string) { said = append(said, l) }})
		return st, said, err
	}

	t.Run("missing: a timeout naming the host, after looking until the deadline", func(t *testing.T) {
		st, said, err := wait()
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("error %v, want a timeout", err)
		}
		for _, m := range []string{
			"release abc1234 is not on every host: timed out after 1m; 1 of 1 not ready: local (no release abc1234 yet)",
			"check that deliver ran",
		} {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("error does not mention %q: %v", m, err)
			}
		}
		// Progress at 0s, then every change or sixth look: once here.
		if want := []string{"[0s] waiting for 1 of 1 hosts: local (no release abc1234 yet)"}; !reflect.DeepEqual(said, want) {
			t.Errorf("progress lines %q, want %q", said, want)
		}
		if want := []Member{{Name: "local", State: Waiting, Detail: "no release abc1234 yet"}}; !reflect.DeepEqual(st.Members, want) {
			t.Errorf("members %+v, want %+v", st.Members, want)
		}
	})

	t.Run("another artifact: failed at once", func(t *testing.T) {
		writeRelease(t, root, testID, otherSum)
		t.Cleanup(func() { os.RemoveAll(filepath.Join(root, release.ReleasesDir)) })
		_, said, err := wait()
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "1 of 1 failed: local (holds release abc1234 from another artifact") ||
			!strings.Contains(err.Error(), "needs a new release id") {
			t.Errorf("error %v, want a failure naming the other artifact and what to do", err)
		}
		if len(said) > 0 {
			t.Errorf("waited for a host that can never be ready: %q", said)
		}
	})

	t.Run("present: ready in one look", func(t *testing.T) {
		writeRelease(t, root, testID, testSum)
		st, _, err := wait()
		if err != nil {
			t.Fatal(err)
		}
		want := Status{Members: []Member{{Name: "local", State: Ready, Detail: "complete, sha256 matches"}}, Round: 1}
		if !reflect.DeepEqual(st, want) {
			t.Errorf("status:\n got %+v\nwant %+v", st, want)
		}
	})
}
