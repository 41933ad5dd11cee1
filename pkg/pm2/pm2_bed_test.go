package pm2_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
)

// site is one bed host with releases delivered and next-deploy's files
// installed: the deploy root ~/app, the ecosystem from config pm2.
type site struct {
	b      *bed.Bed
	h      *bed.Host
	host   remote.Host
	layout release.Layout
	run    pm2.Runner
	site   *pm2.Site
}

func newSite(t *testing.T, ids ...string) *site {
	t.Helper()
	b := bed.Start(t, bed.Options{Hosts: 1, PM2: true})
	return siteOn(t, b, b.Hosts[0], nil, ids...)
}

// siteOn makes host h of bed b a site: releases ids delivered, the
// ecosystem from config pm2 (changed by set, unless nil) installed.
func siteOn(t *testing.T, b *bed.Bed, h *bed.Host, set func(*pm2.Config), ids ...string) *site {
	t.Helper()
	ctx := context.Background()
	host, err := pm2test.Dial(ctx, h.Target(), b.KnownHostsFile, b.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	s := &site{b: b, h: h, host: host, layout: release.Layout{Root: "~/app"},
		run: pm2.Runner{Root: "~/app", Ecosystem: pm2.DefaultEcosystem, Env: "production"}}
	for _, id := range ids {
		r := pm2test.Release{ID: id, Crash: strings.HasPrefix(id, "crash")}
		if err := r.Deliver(ctx, host, s.layout); err != nil {
			t.Fatal(err)
		}
	}
	cfg := pm2.Defaults
	cfg.Root, cfg.Hostname = "~/app", h.Addr
	if set != nil {
		set(&cfg)
	}
	eco, err := pm2.Ecosystem(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.run.Install(ctx, host, eco); err != nil {
		t.Fatal(err)
	}
	if s.site, err = s.run.Inspect(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := s.site.CheckApps(); err != nil {
		t.Fatalf("the ecosystem from config pm2 is refused: %v", err)
	}
	return s
}

func (s *site) switchTo(t *testing.T, id string) {
	t.Helper()
	if err := s.layout.Switch(context.Background(), s.host, id); err != nil {
		t.Fatal(err)
	}
}

// startOn switches current to id and starts the ecosystem's apps.
func (s *site) startOn(t *testing.T, id string) {
	t.Helper()
	s.switchTo(t, id)
	if err := s.run.Start(context.Background(), s.host); err != nil {
		t.Fatalf("%s: start on %s: %v", s.h.Name(), id, err)
	}
}

func (s *site) procs(t *testing.T) []pm2.Proc {
	t.Helper()
	ps, err := s.run.Status(context.Background(), s.host)
	if err != nil {
		t.Fatal(err)
	}
	return s.site.Ours(ps)
}

// served asks the app directly n times which release answers.
func (s *site) served(t *testing.T, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range n {
		resp, err := c.Get("http://" + s.h.AppAddr + "/api/release")
		if err != nil {
			t.Fatalf("ask the app: %v", err)
		}
		var v struct{ Release string }
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("app answered %q", b)
		}
		got[v.Release]++
	}
	return got
}

// runs checks both proofs that every worker runs release id: the kernel's
// view (/proc/<pid>/cwd inside releases/<id>) and what the app serves.
func (s *site) runs(t *testing.T, id string) {
	t.Helper()
	ps := s.procs(t)
	if err := s.site.Verify(ps, id); err != nil {
		t.Errorf("workers after the reload: %v", err)
	}
	if got := s.served(t, 8); got[id] != 8 {
		t.Errorf("the app served %v, want only %s", got, id)
	}
}

// Which reload invocation moves cluster workers to the release current
// points at, for an app started from the ecosystem (paths through
// current). Measured, not assumed: the reload invocation activate uses
// (pm2 reload <ecosystem> --env <env>, from the deploy root) moves them;
// so does pm2 reload <name>, since pm2 keeps the unresolved paths.
func TestReloadInvocationMovesWorkers(t *testing.T) {
	s := newSite(t, "r1", "r2", "r3")
	ctx := context.Background()
	s.startOn(t, "r1")
	s.runs(t, "r1")
	for _, p := range s.procs(t) {
		if pl := s.site.Place(p); pl != pm2.OnCurrent {
			t.Errorf("worker %s placed %s (cwd %s), want through current", p.Key(), pl, p.Cwd)
		}
	}
	s.switchTo(t, "r2")
	if err := s.run.ReloadOnce(ctx, s.host); err != nil {
		t.Fatal(err)
	}
	s.runs(t, "r2")
	s.switchTo(t, "r3")
	s.b.RunAs(t, s.h, `cd ~/app && pm2 reload web`)
	s.runs(t, "r3")
}

// An app whose paths were resolved at start keeps serving its release
// through any reload; activate detects it and replaces it without
// dropping a request. Both ways users pin an app are covered.
func TestPinnedAppIsDetectedAndReplacedWithoutDowntime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start string
	}{
		{"cd current && pm2 start server.js", `cd ~/app/current && HOSTNAME=$1 PORT=3000 pm2 start server.js -i 2 --name web --node-args="--require $HOME/app/.next-deploy/drain.cjs" --wait-ready`},
		{"cwd: __dirname in an ecosystem inside the release", `cd ~/app && cat > current/pinned.config.js <<EOF
module.exports = { apps: [{ name: 'web', cwd: __dirname, script: 'server.js', exec_mode: 'cluster', instances: 2,
  node_args: ['--require', '$HOME/app/.next-deploy/drain.cjs'], wait_ready: true, env: { HOSTNAME: '$1', PORT: '3000' } }] };
EOF
pm2 start current/pinned.config.js`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testPinned(t, tc.start)
		})
	}
}

func testPinned(t *testing.T, start string) {
	s := newSite(t, "p1", "p2")
	ctx := context.Background()
	s.switchTo(t, "p1")
	s.b.RunAs(t, s.h, start, s.h.Addr)
	s.runs(t, "p1")
	pinned, err := s.site.Pinned(s.procs(t))
	if err != nil || len(pinned) != 1 || pinned[0] != "web" {
		t.Fatalf("Pinned = %v, %v; want [web]", pinned, err)
	}
	// The regression this guards against: a reload after the switch
	// leaves every worker on the old release.
	s.switchTo(t, "p2")
	if err := s.run.ReloadOnce(ctx, s.host); err != nil {
		t.Fatal(err)
	}
	if err := s.site.Verify(s.procs(t), "p1"); err != nil {
		t.Errorf("a pinned app should stay on p1 after reload: %v", err)
	}
	load := pm2test.Load{BaseURL: "http://" + s.h.AppAddr, Workers: 4}.Start(ctx)
	time.Sleep(500 * time.Millisecond)
	err = s.run.Migrate(ctx, s.host, s.site, "web")
	time.Sleep(500 * time.Millisecond)
	st := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load during the replacement: %s", st)
	if st.Failures != 0 || st.Requests == 0 {
		t.Errorf("replacing the pinned app: %s; want 0 failed: %v", st, st.Errors)
	}
	s.runs(t, "p2")
	ps := s.procs(t)
	for _, p := range ps {
		if pl := s.site.Place(p); pl != pm2.OnCurrent || p.Name != "web" {
			t.Errorf("after the replacement worker %s %q is %s, want web through current", p.Key(), p.Name, pl)
		}
	}
}

// A release that crashes at start: pm2 alone would stop the old workers
// after listen_timeout and leave none. The watched reload switches current
// back as soon as a new worker crash-loops; pm2's next restart starts the
// old release, the reload completes on it and no request fails.
func TestReloadRescuesACrashingRelease(t *testing.T) {
	s := newSite(t, "c1", "crash2")
	ctx := context.Background()
	s.startOn(t, "c1")
	load := pm2test.Load{BaseURL: "http://" + s.h.AppAddr, Workers: 4}.Start(ctx)
	s.switchTo(t, "crash2")
	rescued, err := s.run.Reload(ctx, s.host, s.site, pm2.Watch{
		Poll:   300 * time.Millisecond,
		Rescue: func(ctx context.Context) error { return s.layout.Switch(ctx, s.host, "c1") },
	})
	st := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !rescued {
		t.Error("the crash loop was not seen")
	}
	t.Logf("load during the reload: %s", st)
	if st.Failures != 0 || st.Releases["c1"] == 0 {
		t.Errorf("reload of a crashing release: %s; want 0 failed, served by c1: %v", st, st.Errors)
	}
	s.runs(t, "c1")
}

// Reload starts the apps when none runs (first activation), from the
// deploy root, and its status is what Verify reads.
func TestReloadStartsWhenNothingRuns(t *testing.T) {
	s := newSite(t, "f1")
	s.switchTo(t, "f1")
	if _, err := s.run.Reload(context.Background(), s.host, s.site, pm2.Watch{}); err != nil {
		t.Fatal(err)
	}
	s.runs(t, "f1")
	// The daemon keeps the directory it was started from: ours start it
	// from the deploy root, never from a release that prune may remove.
	out := strings.TrimSpace(s.b.RunAs(t, s.h, `readlink /proc/$(cat ~/.pm2/pm2.pid)/cwd`))
	if strings.Contains(out, "/releases/") {
		t.Errorf("the pm2 daemon runs in %q, inside a release", out)
	}
}
