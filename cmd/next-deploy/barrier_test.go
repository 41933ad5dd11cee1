package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/barrier"
	"github.com/org/next-deploy/pkg/release"
)

// What barrier-wait decides is pkg/barrier's (and its tests'); these
// tests check the wiring: flags to Options, one wait, the rendering.

// Both modes end to end through run(): hosts against the local host,
// jobs against a fake GitHub API where one job delivers a round late.
func TestBarrierEndToEnd(t *testing.T) {
	const id, sum = "abc1234", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	root := t.TempDir()
	t.Run("hosts: the local host lacks the release: exit 1 naming it", func(t *testing.T) {
		status, stdout, stderr := runCLI(t, nil, "barrier-wait", "--hosts", "local", "--path", root, "--release", id, "--timeout", "1s", "--interval", "250ms")
		if want := "release abc1234 is not on every host: timed out after 1s; 1 of 1 not ready: local (no release abc1234 yet)"; status != cli.ExitFailed || !strings.Contains(stderr, want) {
			t.Errorf("status %d, want 1 with %q; stderr:\n%s", status, want, stderr)
		}
		if !strings.Contains(stdout, "local  waiting") {
			t.Errorf("result table lacks the waiting host:\n%s", stdout)
		}
	})

	t.Run("hosts: the local host holds the release", func(t *testing.T) {
		dir := filepath.Join(root, release.ReleasesDir, id, ".next-deploy")
		m, _ := json.Marshal(release.Manifest{ID: id, SHA256: sum, Time: time.Unix(1_700_000_000, 0).UTC()})
		if err := os.MkdirAll(dir, 0o755); err != nil || os.WriteFile(filepath.Join(dir, "release.json"), m, 0o644) != nil {
			t.Fatal("cannot write the release")
		}
		outFile := filepath.Join(t.TempDir(), "output")
		if err := os.WriteFile(outFile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		status, stdout, stderr := runCLI(t, map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": outFile},
			"barrier-wait", "--hosts", "local", "--path", root, "--release", id, "--sha256", strings.ToUpper(sum), "--json")
		if status != cli.ExitOK {
			t.Fatalf("status %d, stderr:\n%s", status, stderr)
		}
		var res barrierResult
		if env, err := cli.DecodeEnvelope([]byte(stdout), &res); err != nil || !env.OK || env.Command != "barrier-wait" {
			t.Fatalf("--json output: %v\n%s", err, stdout)
		}
		want := barrierResult{Mode: "hosts", Release: id, SHA256: sum, Ready: true, Rounds: 1, Elapsed: "0s",
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

	t.Run("jobs: one delivers while the other is queued, then both have", func(t *testing.T) {
		var calls atomic.Int32
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			if r.URL.Path != "/repos/acme/shop/actions/runs/42/jobs" || r.Header.Get("Authorization") != "Bearer tok" {
				http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
				return
			}
			b, bSteps := "queued", `[]`
			if n > 1 {
				b, bSteps = "in_progress", `[{"name":"deliver","status":"completed","conclusion":"success","number":1}]`
			}
			fmt.Fprintf(w, `{"total_count":3,"jobs":[
				{"id":1,"name":"build","status":"completed","conclusion":"success","run_attempt":1},
				{"id":2,"name":"deploy (a)","status":"in_progress","run_attempt":1,"steps":[{"name":"deliver","status":"completed","conclusion":"success","number":1}]},
				{"id":3,"name":"deploy (b)","status":%q,"run_attempt":1,"steps":%s}]}`, b, bSteps)
		}))
		t.Cleanup(api.Close)
		env := map[string]string{"GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_API_URL": api.URL, "GITHUB_SHA": "abc1234ffff", "GITHUB_TOKEN": "tok"}
		status, stdout, stderr := runCLI(t, env, "barrier-wait", "--mode", "jobs", "--jobs", "deploy (*)", "--expect", "2", "--interval", "10ms")
		if status != cli.ExitOK {
			t.Fatalf("status %d, stderr:\n%s", status, stderr)
		}
		if !strings.Contains(stderr, "barrier-wait: [0s] waiting for 1 of 2 jobs: deploy (b) (job queued)") {
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
