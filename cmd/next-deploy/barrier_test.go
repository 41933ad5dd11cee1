package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/barrier"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

const (
	barrierID  = "abc1234"
	barrierSum = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	otherSum   = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
)

// barrierClock never sleeps: Sleep moves its time forward.
type barrierClock struct{ now time.Time }

func (c *barrierClock) Now() time.Time { return c.now }
func (c *barrierClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return ctx.Err()
}

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
		want barrier.Member
	}{
		{"complete", stateWith(0, complete(barrierID, barrierSum)), nil, "",
			barrier.Member{Name: "h", State: barrier.Ready, Detail: "complete"}},
		{"checksum matches, in any case", stateWith(0, complete(barrierID, strings.ToUpper(barrierSum))), nil, barrierSum,
			barrier.Member{Name: "h", State: barrier.Ready, Detail: "complete, sha256 matches"}},
		{"another artifact under the same id", stateWith(0, complete(barrierID, otherSum)), nil, barrierSum,
			barrier.Member{Name: "h", State: barrier.Failed, Detail: "holds release abc1234 from another artifact: sha256 " + otherSum + ", want " + barrierSum}},
		{"incomplete", stateWith(0, release.Release{ID: barrierID}), nil, "",
			barrier.Member{Name: "h", State: barrier.Waiting, Detail: "release abc1234 incomplete (no manifest yet)"}},
		{"upload in flight", stateWith(1, complete("old1234", otherSum)), nil, "",
			barrier.Member{Name: "h", State: barrier.Waiting, Detail: "no release abc1234 yet (an upload is in progress, or was abandoned)"}},
		{"absent", stateWith(0), nil, barrierSum,
			barrier.Member{Name: "h", State: barrier.Waiting, Detail: "no release abc1234 yet"}},
		{"unreachable for a moment", nil, errors.New("connect to deploy@b:22: connection refused"), "",
			barrier.Member{Name: "h", State: barrier.Waiting, Detail: "unreachable, retrying: connect to deploy@b:22: connection refused"}},
		{"host key not vouched for", nil, fmt.Errorf("connect: %w", hk), "",
			barrier.Member{Name: "h", State: barrier.Failed, Detail: "connect: " + hk.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := judgeHost("h", tc.st, tc.err, barrierID, tc.sum); got != tc.want {
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

func barrierTargets(t *testing.T, s string) []inventory.Target {
	t.Helper()
	ts, err := inventory.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestHostsPollLooksOnlyAtHostsNotReady(t *testing.T) {
	have, none := stateWith(0, complete(barrierID, barrierSum)), stateWith(0)
	f := &fakeFleet{
		rounds: map[string][]*release.State{
			"a": {have},
			"b": {none, nil, have},
			"c": {nil, none, none, have},
		},
		looks: map[string]int{},
	}
	ts := barrierTargets(t, "deploy@a,deploy@b,deploy@c")
	poll := hostsPoll(ts, 2, time.Minute, barrierID, barrierSum, f.state)
	var got [][]string
	for range 4 {
		st, err := poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st.Names(barrier.Waiting))
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

// runBarrier runs barrier-wait in-process with a fake clock (and, for
// jobs mode, the given API client).
func runBarrier(t *testing.T, env map[string]string, hc *http.Client, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	c := &barrierCmd{clock: &barrierClock{now: time.Unix(1_700_000_000, 0)}, http: hc}
	var out, errb bytes.Buffer
	fs := flag.NewFlagSet("barrier-wait", flag.ContinueOnError)
	fs.SetOutput(&errb)
	c.SetFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	e := cli.NewEnv(&out, &errb, strings.NewReader(""), func(k string) string { return env[k] }, "test")
	err := c.Run(context.Background(), e, fs.Args())
	if err != nil {
		fmt.Fprintf(&errb, "next-deploy: %v\n", err)
	}
	return cli.ExitStatus(err), out.String(), errb.String()
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
func TestBarrierHostsLocal(t *testing.T) {
	root := t.TempDir()
	outFile := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(outFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": outFile}
	args := []string{"--hosts", "local", "--path", root, "--release", barrierID, "--sha256", barrierSum, "--timeout", "1m", "--interval", "20s"}

	t.Run("missing: exit 1 naming the host, after looking until the deadline", func(t *testing.T) {
		status, stdout, stderr := runBarrier(t, actions, nil, args...)
		if status != cli.ExitFailed {
			t.Fatalf("status %d, want 1; stderr:\n%s", status, stderr)
		}
		for _, m := range []string{
			"release abc1234 is not on every host: timed out after 1m0s; 1 of 1 not ready: local (no release abc1234 yet)",
			"check that deliver ran",
		} {
			if !strings.Contains(stderr, m) {
				t.Errorf("stderr does not mention %q:\n%s", m, stderr)
			}
		}
		// Progress at 0s, then every change or sixth look: once here.
		if got := strings.Count(stderr, "waiting for 1 of 1 hosts: local (no release abc1234 yet)"); got != 1 {
			t.Errorf("%d progress lines naming the missing host, want 1:\n%s", got, stderr)
		}
		if !strings.Contains(stdout, "local  waiting") {
			t.Errorf("result table lacks the waiting host:\n%s", stdout)
		}
	})

	t.Run("another artifact: exit 1 at once", func(t *testing.T) {
		writeRelease(t, root, barrierID, otherSum)
		t.Cleanup(func() { os.RemoveAll(filepath.Join(root, release.ReleasesDir)) })
		status, _, stderr := runBarrier(t, nil, nil, args...)
		if status != cli.ExitFailed || !strings.Contains(stderr, "1 of 1 failed: local (holds release abc1234 from another artifact") {
			t.Errorf("status %d, stderr:\n%s", status, stderr)
		}
		if strings.Contains(stderr, "waiting for") {
			t.Errorf("waited for a host that can never be ready:\n%s", stderr)
		}
	})

	t.Run("present: exit 0 with outputs", func(t *testing.T) {
		writeRelease(t, root, barrierID, barrierSum)
		status, stdout, stderr := runBarrier(t, actions, nil, append(args, "--json")...)
		if status != cli.ExitOK {
			t.Fatalf("status %d, stderr:\n%s", status, stderr)
		}
		var res barrierResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("--json output: %v\n%s", err, stdout)
		}
		want := barrierResult{Mode: "hosts", Release: barrierID, SHA256: barrierSum, Ready: true, Rounds: 1, Elapsed: "0s",
			Members: []barrier.Member{{Name: "local", State: barrier.Ready, Detail: "complete, sha256 matches"}}}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("result:\n got %+v\nwant %+v", res, want)
		}
		out, _ := os.ReadFile(outFile)
		for _, m := range []string{"release<<", "abc1234", "hosts<<", "local"} {
			if !strings.Contains(string(out), m) {
				t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", m, out)
			}
		}
	})
}

func TestBarrierBadInputExits2TouchingNothing(t *testing.T) {
	addr, conns := listener(t)
	var apiCalls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiCalls.Add(1) }))
	t.Cleanup(api.Close)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	gh := map[string]string{"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42", "GITHUB_API_URL": api.URL}
	hosts := []string{"barrier-wait", "--hosts", "deploy@" + addr, "--known-hosts-file", kh}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		mention []string
	}{
		{"bad release id", nil, append(hosts, "--release", "../x"), []string{`release id "../x"`}},
		{"no release id", nil, hosts, []string{"--release is required"}},
		{"release from GITHUB_SHA, bad sha256", map[string]string{"GITHUB_SHA": "abc1234def"}, append(hosts, "--sha256", "xyz"), []string{`--sha256 "xyz"`}},
		{"bad duration", nil, append(hosts, "--release", "r1", "--timeout", "soon"), []string{`invalid value "soon" for flag -timeout`}},
		{"zero timeout and interval at once", nil, append(hosts, "--release", "r1", "--timeout", "0s", "--interval", "-1s"), []string{"--timeout 0s", "--interval -1s"}},
		{"bad mode", nil, append(hosts, "--release", "r1", "--mode", "both"), []string{`--mode "both"`}},
		{"bad hosts and release at once", nil, []string{"barrier-wait", "--hosts", "x!", "--release", "-r"}, []string{`"x!"`, `"-r"`}},
		{"jobs: no pattern", gh, []string{"barrier-wait", "--mode", "jobs"}, []string{"--jobs is required"}},
		{"jobs: no token, no run", nil, []string{"barrier-wait", "--mode", "jobs", "--jobs", "deploy (*)"}, []string{"GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"}},
		{"jobs: negative expect", gh, []string{"barrier-wait", "--mode", "jobs", "--jobs", "deploy (*)", "--expect", "-1"}, []string{"-1"}},
		{"jobs: bad api url", map[string]string{"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42", "GITHUB_API_URL": "api.github.com"}, []string{"barrier-wait", "--mode", "jobs", "--jobs", "deploy (*)"}, []string{"GITHUB_API_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, stderr := runCLI(t, tc.env, tc.args...)
			if status != cli.ExitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", status, cli.ExitUsage, stderr)
			}
			for _, m := range tc.mention {
				if !strings.Contains(stderr, m) {
					t.Errorf("stderr does not mention %s:\n%s", m, stderr)
				}
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to a host during bad-input runs, want 0", n)
	}
	if n := apiCalls.Load(); n != 0 {
		t.Errorf("%d GitHub API calls during bad-input runs, want 0", n)
	}
}

// The jobs mode end to end against a fake GitHub API: one job delivers
// while the other is still queued, then both have.
func TestBarrierJobs(t *testing.T) {
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/repos/acme/shop/actions/runs/42/jobs" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		b := "queued"
		bSteps := `[]`
		if n > 1 {
			b = "in_progress"
			bSteps = `[{"name":"deliver","status":"completed","conclusion":"success","number":1}]`
		}
		fmt.Fprintf(w, `{"total_count":3,"jobs":[
			{"id":1,"name":"build","status":"completed","conclusion":"success","run_attempt":1},
			{"id":2,"name":"deploy (a)","status":"in_progress","run_attempt":1,"steps":[{"name":"deliver","status":"completed","conclusion":"success","number":1}]},
			{"id":3,"name":"deploy (b)","status":%q,"run_attempt":1,"steps":%s}]}`, b, bSteps)
	}))
	t.Cleanup(api.Close)
	env := map[string]string{"GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_API_URL": api.URL, "GITHUB_SHA": "abc1234ffff"}
	status, stdout, stderr := runBarrier(t, env, api.Client(), "--mode", "jobs", "--jobs", "deploy (*)", "--github-token", "tok", "--expect", "2")
	if status != cli.ExitOK {
		t.Fatalf("status %d, stderr:\n%s", status, stderr)
	}
	if !strings.Contains(stderr, "waiting for 1 of 2 jobs: deploy (b) (job queued)") {
		t.Errorf("no progress line naming the queued job:\n%s", stderr)
	}
	for _, m := range []string{`jobs matching "deploy (*)" in run 42 of acme/shop (attempt 1)`, `deploy (b)  ready  step "deliver" succeeded`} {
		if !strings.Contains(stdout, m) {
			t.Errorf("result table lacks %q:\n%s", m, stdout)
		}
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("%d API calls, want 2", got)
	}
}
