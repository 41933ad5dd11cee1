package pm2_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
)

// waitFor polls cond every 20 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func healthy(a *app) error {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + a.addr + "/api/health")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// The preload writes the worker's memory to mem/<pid>.json next to
// itself, samples in time order, and removes the file when the worker
// exits: what status and activate --watch read.
func TestPreloadReportsMemory(t *testing.T) {
	a := startAppWith(t, appOpts{preload: true, env: []string{"NEXT_DEPLOY_MEM_MS=50"}})
	file := filepath.Join(filepath.Dir(a.cmd.Args[2]), "mem", strconv.Itoa(a.cmd.Process.Pid)+".json")
	var mem *pm2.Memory
	waitFor(t, 10*time.Second, "5 samples in "+file, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		m, err := pm2.ParseMemory(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", file, err, b)
		}
		mem = m
		return len(m.Samples) >= 5
	})
	last := mem.Last
	if last.HeapUsed <= 0 || last.HeapTotal < last.HeapUsed || last.RSS < last.HeapTotal || mem.HeapLimit <= last.HeapTotal {
		t.Errorf("last sample %+v, heap limit %d: want 0 < used <= total <= rss, total < limit", last, mem.HeapLimit)
	}
	if mem.Every != 50*time.Millisecond {
		t.Errorf("pace %s, want 50ms (NEXT_DEPLOY_MEM_MS)", mem.Every)
	}
	for i := 1; i < len(mem.Samples); i++ {
		if !mem.Samples[i].Time.After(mem.Samples[i-1].Time) {
			t.Fatalf("samples not in time order at %d: %v", i, mem.Samples)
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-a.done
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("%s after the worker exited: %v, want it removed", file, err)
	}
}

// With --heapsnapshot-signal the worker writes a snapshot into the
// diagnostic dir the preload created; when it cannot write, node's
// listener throws, which would kill the worker: the preload's wrapper
// keeps it serving and leaves no partial file.
func TestPreloadHeapSnapshotNeverKillsTheWorker(t *testing.T) {
	dir := t.TempDir()
	heap := filepath.Join(dir, "state", "heap")
	a := startAppWith(t, appOpts{preload: true, dir: dir, nodeArgs: []string{"--heapsnapshot-signal=" + pm2.HeapSignal, "--diagnostic-dir=" + heap}})
	if fi, err := os.Stat(heap); err != nil || !fi.IsDir() {
		t.Fatalf("diagnostic dir %s: %v, want it created by the preload", heap, err)
	}
	// pm2 sets process.title, hiding node's options from /proc/<pid>/cmdline:
	// the memory report tells heap-snapshot where to look.
	var mem *pm2.Memory
	waitFor(t, 10*time.Second, "a memory report", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "mem", strconv.Itoa(a.cmd.Process.Pid)+".json"))
		mem, _ = pm2.ParseMemory(b)
		return err == nil && mem != nil
	})
	if mem.HeapSignal != pm2.HeapSignal || mem.DiagnosticDir != heap {
		t.Errorf("memory report: heap signal %q into %q, want %s into %s", mem.HeapSignal, mem.DiagnosticDir, pm2.HeapSignal, heap)
	}
	if err := a.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	var files []string
	waitFor(t, 30*time.Second, "a heap snapshot in "+heap, func() bool {
		files, _ = filepath.Glob(filepath.Join(heap, "*.heapsnapshot"))
		// The event loop is blocked while node writes: an answer means done.
		return len(files) == 1 && healthy(a) == nil
	})
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var snap map[string]json.RawMessage
	if err := json.Unmarshal(b, &snap); err != nil || snap["snapshot"] == nil || snap["nodes"] == nil || snap["strings"] == nil {
		t.Fatalf("%s (%d bytes) is not a heap snapshot: %v", files[0], len(b), err)
	}
	// Now the dir is a file: node cannot write.
	if err := os.RemoveAll(heap); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(heap, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case <-a.done:
		t.Fatalf("the worker died of a failed heap snapshot: %v", a.err)
	default:
	}
	if err := healthy(a); err != nil {
		t.Errorf("the worker does not answer after a failed heap snapshot: %v", err)
	}
}

// The preload counts the worker's answers by status class in its report:
// activate --canary reads the 5xx of a new release from it.
func TestPreloadCountsAnswersByClass(t *testing.T) {
	a := startAppWith(t, appOpts{preload: true, env: []string{"NEXT_DEPLOY_MEM_MS=50"}})
	c := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/", "/", "/api/health", "/nope"} {
		resp, err := c.Get("http://" + a.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// "/" and the health URL answer 200 three times, /nope 404 once.
	want := [5]int64{0, 3, 0, 1, 0}
	var got pm2.Answers
	waitFor(t, 10*time.Second, "answers 2xx 3, 4xx 1 in the report", func() bool {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(a.cmd.Args[2]), "mem", strconv.Itoa(a.cmd.Process.Pid)+".json"))
		if err != nil {
			return false
		}
		var r struct {
			Answers []int64 `json:"answers"`
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Answers) != 5 {
			t.Fatalf("report %s: %v; want answers by class 1xx to 5xx", b, err)
		}
		copy(got.ByClass[:], r.Answers)
		return got.ByClass == want
	})
	if got.Total() != 4 || got.ServerErrors() != 0 {
		t.Errorf("total %d, 5xx %d; want 4, 0", got.Total(), got.ServerErrors())
	}
}
