package pm2

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

func TestUnreadyAfter(t *testing.T) {
	for _, tc := range []struct {
		listen, poll, want time.Duration
	}{
		{15 * time.Second, time.Second, 7500 * time.Millisecond}, // half: the rescue needs the rest
		{30 * time.Second, time.Second, 22 * time.Second},
		{60 * time.Second, 2 * time.Second, 50 * time.Second},
		{0, time.Second, 1500 * time.Millisecond}, // pm2's default, 3s
	} {
		if got := unreadyAfter(tc.listen, tc.poll); got != tc.want {
			t.Errorf("unreadyAfter(%s, %s) = %s, want %s", tc.listen, tc.poll, got, tc.want)
		}
	}
}

func TestUnready(t *testing.T) {
	yes, no := true, false
	s := &Site{Apps: []App{{Name: "web"}}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	before := map[string]int{"0": 100, "1": 101}
	worker := func(id, pid int, ready *bool) Proc {
		return Proc{ID: id, Name: "web", PID: pid, Status: "online", Ready: ready, ListenTimeout: 15 * time.Second}
	}
	for _, tc := range []struct {
		name string
		p    Proc
		seen time.Duration // first seen this long ago; < 0: never seen
		want bool
	}{
		{"new, not ready, past the limit", worker(0, 200, &no), 8 * time.Second, true},
		{"new, not ready, within the limit", worker(0, 200, &no), 7 * time.Second, false},
		{"new, not ready, first seen now", worker(0, 200, &no), -1, false},
		{"new and ready", worker(0, 200, &yes), time.Minute, false},
		{"new, no report: nothing tells", worker(0, 200, nil), time.Minute, false},
		{"the old worker", worker(1, 101, &no), time.Minute, false},
		{"new, not online", Proc{ID: 0, Name: "web", PID: 200, Status: "launching", Ready: &no}, time.Minute, false},
		{"another app's", Proc{ID: 2, Name: "cron", PID: 300, Status: "online", Ready: &no}, time.Minute, false},
	} {
		seen := map[int]time.Time{}
		if tc.seen >= 0 {
			seen[tc.p.PID] = t0.Add(-tc.seen)
		}
		got := s.Unready([]Proc{tc.p}, before, seen, t0, time.Second)
		if (len(got) == 1) != tc.want {
			t.Errorf("%s: Unready = %v, want given up on: %v", tc.name, got, tc.want)
		}
		if _, ok := seen[tc.p.PID]; tc.seen < 0 && tc.p.Status == "online" && tc.p.PID != before[tc.p.Key()] && tc.p.Name == "web" && !ok {
			t.Errorf("%s: the new worker was not recorded as seen", tc.name)
		}
	}
}

// status.cjs passes on the preload's word on readiness (absent from an
// older preload's report) and the app's listen_timeout.
func TestStatusReadsReadinessAndListenTimeout(t *testing.T) {
	needNode(t)
	pid := os.Getpid()
	stubPM2(t, fmt.Sprintf(`[{"pm_id":0,"name":"web","pid":%d,"pm2_env":{"status":"online","listen_timeout":15000}}]`, pid))
	root := t.TempDir()
	dir := filepath.Join(root, MemDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := Runner{Root: root, Ecosystem: DefaultEcosystem}
	for _, tc := range []struct {
		field string
		want  string
	}{
		{`"ready":false,`, "false"},
		{`"ready":true,`, "true"},
		{``, "unknown"},
	} {
		report := fmt.Sprintf(`{"v":1,"pid":%d,%s"every":1000,"fine":[[1700000000000,10,5,8]]}`, pid, tc.field)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(pid)+".json"), []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		ps, err := r.StatusMemory(context.Background(), remote.NewLocal())
		if err != nil || len(ps) != 1 {
			t.Fatalf("StatusMemory = %+v, %v", ps, err)
		}
		got := "unknown"
		if ps[0].Ready != nil {
			got = fmt.Sprint(*ps[0].Ready)
		}
		if got != tc.want || ps[0].ListenTimeout != 15*time.Second {
			t.Errorf("report %s: ready %s, listen timeout %s; want %s, 15s", report, got, ps[0].ListenTimeout, tc.want)
		}
	}
}

// pm2Reloading is a host in the middle of a reload whose new worker 0
// never gets ready: pm2 reload returns only once that worker is killed
// (pm2 then restarts it on the release current points at, which listens).
type pm2Reloading struct {
	remote.Local
	mu     sync.Mutex
	killed []string
	gone   chan struct{}
	looks  int
}

func (h *pm2Reloading) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	args := c.Args[2:]
	switch strings.TrimPrefix(c.Script, prelude) {
	case statusScript:
		h.mu.Lock()
		defer h.mu.Unlock()
		h.looks++
		w := `{"id":0,"name":"web","pid":100,"status":"online","listen_timeout_ms":1000,"mem":{"pid":100,"ready":true}}`
		switch {
		case h.killed != nil:
			w = `{"id":0,"name":"web","pid":300,"status":"online","restarts":2,"listen_timeout_ms":1000,"mem":{"pid":300,"ready":true}}`
		case h.looks > 1:
			w = `{"id":0,"name":"web","pid":200,"status":"online","restarts":1,"listen_timeout_ms":1000,"mem":{"pid":200,"ready":false}}`
		}
		return &remote.Result{Stdout: []byte("[" + w + "]\n")}, nil
	case actionScript:
		select {
		case <-h.gone:
			return &remote.Result{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case killScript:
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.killed == nil {
			close(h.gone)
		}
		h.killed = append(h.killed, args...)
		return &remote.Result{}, nil
	}
	return nil, fmt.Errorf("unexpected script %q", c.Script)
}

// The regression this guards against: a release that starts but never
// listens. pm2 stops each old worker at listen_timeout, ready or not, and
// nothing served until the health gate sent the host back. The watched
// reload switches current back and kills the new worker before that.
func TestReloadGivesUpOnAWorkerThatNeverGetsReady(t *testing.T) {
	h := &pm2Reloading{gone: make(chan struct{})}
	s := &Site{Root: "/app", RealRoot: "/app", Apps: []App{{Name: "web"}}}
	rescues := 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rescued, err := Runner{Root: "/app"}.Reload(ctx, h, s, Watch{
		Poll:   10 * time.Millisecond,
		Rescue: func(context.Context) error { rescues++; return nil },
	})
	if !rescued || rescues != 1 {
		t.Errorf("rescued %v, Rescue called %d times; want once", rescued, rescues)
	}
	if !slices.Equal(h.killed, []string{"200"}) {
		t.Errorf("killed %q, want the new worker 200 only", h.killed)
	}
	if err == nil || !strings.Contains(err.Error(), "did not listen") || !strings.Contains(err.Error(), "switched back") {
		t.Errorf("Reload = %v, want an error saying the worker did not listen and current was switched back", err)
	}
}

// Issue 15 item 3: the watched reload looks at the workers as often as
// their listen_timeout asks, not every second whatever it is.
func TestPollFor(t *testing.T) {
	for _, tc := range []struct {
		listen []time.Duration
		want   time.Duration
	}{
		{[]time.Duration{15 * time.Second, 15 * time.Second}, 1875 * time.Millisecond}, // config pm2's default
		{[]time.Duration{0}, 500 * time.Millisecond},                                   // pm2's default, 3 s
		{[]time.Duration{60 * time.Second, 8 * time.Second}, time.Second},              // the shortest
		{[]time.Duration{5 * time.Minute}, 2 * time.Second},
		{nil, 500 * time.Millisecond},
	} {
		var ps []Proc
		for _, l := range tc.listen {
			ps = append(ps, Proc{ListenTimeout: l})
		}
		if got := pollFor(ps); got != tc.want {
			t.Errorf("pollFor(%v) = %s, want %s", tc.listen, got, tc.want)
		}
	}
}
