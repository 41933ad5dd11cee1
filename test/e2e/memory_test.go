package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/heap"
	"github.com/org/next-deploy/pkg/memtrend"
	"github.com/org/next-deploy/test/bed"
)

// TestMemoryWatchStatusAndHeapSnapshots is issue #8 on the bed (2 hosts,
// pm2 cluster x2 from the generated ecosystem, the real CLI), with the
// tiny Next-like server's memory routes driven from loopback:
//   - allocate-and-free load during activate --watch: no worker is called
//     a leak;
//   - leaking load during activate --watch: every worker of the release
//     is called a leak, in a warning that names it; status says the same;
//   - heap-snapshot brings back one valid .heapsnapshot per worker of
//     both hosts and leaves none on them;
//   - a host without the disk space for a snapshot is refused, naming the
//     host and the numbers, before any worker is signalled.
func TestMemoryWatchStatusAndHeapSnapshots(t *testing.T) {
	b := actBed(t)
	for _, id := range []string{"v1", "v2"} {
		actTiny{}.ship(t, b, id, false)
	}
	if status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "v1"}, actFlags()...)...); status != 0 {
		t.Fatalf("first activation: exit %d\n%s\n%s", status, out, errOut)
	}
	step(t, "alloc-and-free load is no leak", func(t *testing.T) {
		w := watchUnder(t, b, "/churn?kb=16", "v2")
		for _, x := range w.Workers {
			if x.Trend.Leaking() {
				t.Errorf("%s worker %s under alloc-and-free load called a leak: %+v", x.Host, x.ID, x.Trend)
			}
		}
	})
	step(t, "leaking load is a leak, in watch and status", func(t *testing.T) {
		load := memLoad(b, "/leak?kb=16")
		defer load.stop()
		w := watchWith(t, b, load, "v1")
		// pm2's cluster master hands connections round-robin, but a
		// keep-alive client can leave a worker with little of the load:
		// each host must have its leaking workers found.
		leaks := map[string]int{}
		for _, x := range w.Workers {
			if x.Trend.Leaking() && x.Trend.PerMinute >= memtrend.DefaultRules.MinRate {
				leaks[x.Host]++
			}
		}
		if len(leaks) != 2 {
			t.Errorf("watch under leaking load found leaks on %v, want both hosts", leaks)
		}
		status, out, errOut := actCLI(t, b, "status", "--json")
		if status != 0 {
			t.Fatalf("status: exit %d\n%s\n%s", status, out, errOut)
		}
		var hosts []struct {
			Host    string `json:"host"`
			Current string `json:"current"`
			Workers []struct {
				ID       string          `json:"id"`
				Release  string          `json:"release"`
				Status   string          `json:"status"`
				HeapUsed int64           `json:"heap_used"`
				Trend    *memtrend.Trend `json:"trend"`
			} `json:"workers"`
			History []struct {
				Release string `json:"release"`
			} `json:"history"`
		}
		if _, err := cli.DecodeEnvelope([]byte(out), &hosts); err != nil || len(hosts) != 2 {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		statusLeaks := 0
		for _, h := range hosts {
			if h.Current != "v1" || len(h.Workers) != 2 || len(h.History) == 0 || h.History[len(h.History)-1].Release != "v1" {
				t.Errorf("status of %s: current %s, %d workers, history %+v; want v1, 2 workers, last activation v1", h.Host, h.Current, len(h.Workers), h.History)
			}
			for _, w := range h.Workers {
				t.Logf("status %s worker %s: release %s, heap %.1f MiB, trend %v", h.Host, w.ID, w.Release, float64(w.HeapUsed)/(1<<20), w.Trend)
				if w.Release != "v1" || w.Status != "online" || w.Trend == nil {
					t.Errorf("status of %s worker %s: %+v, want online on v1 with a trend", h.Host, w.ID, w)
				}
				if w.Trend != nil && w.Trend.Leaking() {
					statusLeaks++
				}
			}
		}
		if statusLeaks < 2 {
			t.Errorf("status called %d workers leaking under leaking load, want at least one per host", statusLeaks)
		}
		if !strings.Contains(errOut, "looks like a leak") {
			t.Errorf("status does not warn about the leak:\n%s", errOut)
		}
	})
	step(t, "heap snapshots of every worker", func(t *testing.T) { heapSnapshots(t, b) })
	step(t, "no disk space: refused", func(t *testing.T) {
		dir := t.TempDir()
		status, out, errOut := actCLI(t, b, "heap-snapshot", "--out", dir, "--disk-margin", "100000000G")
		if status != 1 || !strings.Contains(errOut, "refused") || !strings.Contains(errOut, b.Hosts[0].Target()) || !strings.Contains(errOut, "MiB free") {
			t.Errorf("heap-snapshot without disk space: exit %d, want 1 and a refusal naming the host and the numbers\n%s\n%s", status, out, errOut)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*", "*")); len(left) != 0 {
			t.Errorf("files written after a refusal: %v", left)
		}
		noSnapshotsLeft(t, b)
	})
}

// memWatch is activate --json's memory part.
type memWatch struct {
	Seconds float64            `json:"seconds"`
	Workers []heap.WorkerTrend `json:"workers"`
	Errors  []string           `json:"errors"`
}

func watchUnder(t *testing.T, b *bed.Bed, path, id string) memWatch {
	load := memLoad(b, path)
	defer load.stop()
	return watchWith(t, b, load, id)
}

// watchWith activates id with --watch 75s while load runs, and checks
// that every worker of both hosts was watched on id and judged: the
// switch starts them, and memtrend judges no worker younger than its
// MinAge (a minute).
func watchWith(t *testing.T, b *bed.Bed, load *memLoadRun, id string) memWatch {
	t.Helper()
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", id, "--watch", "75s", "--json"}, actFlags()...)...)
	t.Logf("load: %d requests, %d failed", load.requests(), load.failures())
	if status != 0 {
		t.Fatalf("activate %s --watch: exit %d\n%s\n%s", id, status, out, errOut)
	}
	var rep struct {
		Memory *memWatch `json:"memory"`
	}
	if _, err := cli.DecodeEnvelope([]byte(out), &rep); err != nil || rep.Memory == nil {
		t.Fatalf("activate --json: no memory part (%v)\n%s", err, out)
	}
	w := *rep.Memory
	if len(w.Workers) != 4 || len(w.Errors) > 0 {
		t.Fatalf("watched %d workers (errors %v), want 2 hosts x 2", len(w.Workers), w.Errors)
	}
	leaks := 0
	for _, x := range w.Workers {
		t.Logf("watch %s worker %s pid %d: %s, %d points, heap %.1f -> %.1f MiB, restarts %d", x.Host, x.ID, x.PID, x.Trend, x.Trend.Points, float64(x.Trend.From)/(1<<20), float64(x.Trend.To)/(1<<20), x.Restarts)
		if x.Release != id || x.Trend.Points < memtrend.DefaultRules.MinPoints || x.Trend.Verdict == memtrend.TooYoung {
			t.Errorf("%s worker %s: release %q, %d points, %s; want %s, enough samples and a verdict", x.Host, x.ID, x.Release, x.Trend.Points, x.Trend, id)
		}
		if x.Trend.Leaking() {
			leaks++
			want := fmt.Sprintf("worker %s#%s (pid %d, release %s)", x.App, x.ID, x.PID, id)
			if !strings.Contains(errOut, want) || !strings.Contains(errOut, "looks like a leak") {
				t.Errorf("no leak warning naming %q:\n%s", want, errOut)
			}
		}
	}
	if leaks == 0 && strings.Contains(errOut, "looks like a leak") {
		t.Errorf("a leak warning without a leaking worker:\n%s", errOut)
	}
	if load.requests() == 0 {
		t.Fatal("the load made no request")
	}
	return w
}

func heapSnapshots(t *testing.T, b *bed.Bed) {
	dir := t.TempDir()
	status, out, errOut := actCLI(t, b, "heap-snapshot", "--out", dir, "--json")
	if status != 0 {
		t.Fatalf("heap-snapshot: exit %d\n%s\n%s", status, out, errOut)
	}
	var got []struct {
		Host  string `json:"host"`
		ID    string `json:"id"`
		File  string `json:"file"`
		Bytes int64  `json:"bytes"`
	}
	if _, err := cli.DecodeEnvelope([]byte(out), &got); err != nil {
		t.Fatalf("heap-snapshot --json: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.heapsnapshot"))
	if len(got) != 4 || len(files) != 4 {
		t.Fatalf("%d snapshots reported, %d files in %s; want 2 hosts x 2 workers\n%s", len(got), len(files), dir, out)
	}
	perHost := map[string]int{}
	for _, s := range got {
		perHost[filepath.Base(filepath.Dir(s.File))]++
		raw, err := os.ReadFile(s.File)
		if err != nil {
			t.Fatal(err)
		}
		var snap map[string]json.RawMessage
		if err := json.Unmarshal(raw, &snap); err != nil || snap["snapshot"] == nil || snap["nodes"] == nil || snap["strings"] == nil {
			t.Errorf("%s (%d bytes) is not a heap snapshot: %v", s.File, len(raw), err)
		}
		if int64(len(raw)) != s.Bytes {
			t.Errorf("%s: %d bytes, reported %d", s.File, len(raw), s.Bytes)
		}
		t.Logf("%s worker %s: %s, %.1f MiB", s.Host, s.ID, filepath.Base(s.File), float64(len(raw))/(1<<20))
	}
	if len(perHost) != 2 {
		t.Errorf("snapshots per host directory %v, want 2 hosts with 2 each", perHost)
	}
	t.Logf("heap-snapshot stderr:\n%s", errOut)
	noSnapshotsLeft(t, b)
	// The workers lived through it.
	for _, h := range b.Hosts {
		if code, _ := actHostGet(t, h, "/"); code != 200 {
			t.Errorf("%s does not serve after the snapshots: %d", h.Name(), code)
		}
	}
}

// noSnapshotsLeft checks that no host holds a heap snapshot: the deploy
// root, the pm2 home and the workers' cwd are all under the user's home.
func noSnapshotsLeft(t *testing.T, b *bed.Bed) {
	t.Helper()
	for _, h := range b.Hosts {
		if left := strings.TrimSpace(b.RunAs(t, h, `find "$HOME" -name '*.heapsnapshot' 2>/dev/null || true`)); left != "" {
			t.Errorf("%s: heap snapshots left behind:\n%s", h.Name(), left)
		}
	}
}

// memLoadRun is constant GETs of one path on every host's app, straight
// to pm2's cluster port (round-robin over the workers).
type memLoadRun struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	n, fails int
}

func memLoad(b *bed.Bed, path string) *memLoadRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &memLoadRun{cancel: cancel}
	for _, h := range b.Hosts {
		for range 2 {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				c := &http.Client{Timeout: 10 * time.Second}
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.AppAddr+path, nil)
					resp, err := c.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
					r.mu.Lock()
					r.n++
					if err != nil && ctx.Err() == nil {
						r.fails++
					}
					r.mu.Unlock()
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
		}
	}
	return r
}

func (r *memLoadRun) stop() { r.cancel(); r.wg.Wait() }

func (r *memLoadRun) requests() int { r.mu.Lock(); defer r.mu.Unlock(); return r.n }
func (r *memLoadRun) failures() int { r.mu.Lock(); defer r.mu.Unlock(); return r.fails }
