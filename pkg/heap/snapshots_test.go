package heap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// snapFleet is two hosts: a with workers web#0 (pid 100) and web#1
// (101), a stopped web#2 and an api#3 outside the ecosystem; b with
// web#0 (200). Every worker handles SIGUSR2 and has 1 GiB free.
func snapFleet() (fakeConn, map[string]*fakeHost, *fakePM2, []inventory.Target) {
	const dir = "/app/.next-deploy/heap"
	w := func() *fakeWorker {
		return &fakeWorker{signal: "SIGUSR2", catches: true, dir: dir, free: 1 << 30, snapshot: snapJSON}
	}
	a, b := tgt("10.0.0.1"), tgt("10.0.0.2")
	hosts := map[string]*fakeHost{
		"a": {name: a.String(), workers: map[int]*fakeWorker{100: w(), 101: w(), 300: w()}},
		"b": {name: b.String(), workers: map[int]*fakeWorker{200: w()}},
	}
	mem := &pm2.Memory{HeapSignal: "SIGUSR2", DiagnosticDir: dir, Last: pm2.Sample{HeapTotal: 10 << 20}}
	proc := func(id int, name string, pid int, status string) pm2.Proc {
		return pm2.Proc{ID: float64(id), Name: name, PID: pid, Status: status, Memory: mem}
	}
	procs := map[string][]pm2.Proc{
		a.String(): {proc(0, "web", 100, "online"), proc(1, "web", 101, "online"), proc(2, "web", 0, "stopped"), proc(3, "api", 300, "online")},
		b.String(): {proc(0, "web", 200, "online")},
	}
	p := &fakePM2{procs: func(host string, _ int) []pm2.Proc { return procs[host] }}
	conn := fakeConn{a.String(): hosts["a"], b.String(): hosts["b"]}
	return conn, hosts, p, []inventory.Target{a, b}
}

func snapOptions(t *testing.T, conn fakeConn, p *fakePM2, targets []inventory.Target) SnapshotOptions {
	return SnapshotOptions{
		Conn: conn, Targets: targets, Parallel: 2, PM2: p,
		Out: filepath.Join(t.TempDir(), "out"), Margin: 256 << 20, Timeout: time.Minute,
		Clock: clock.NewFake(t0),
	}
}

// Every worker's snapshot is taken, downloaded under <out>/<host>/ and
// removed from its host, one worker of a host at a time.
func TestSnapshots(t *testing.T) {
	conn, hosts, p, targets := snapFleet()
	o := snapOptions(t, conn, p, targets)
	results, err := Snapshots(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"deploy@10.0.0.1:22": {100, 101}, "deploy@10.0.0.2:22": {200}}
	for _, r := range results {
		var pids []int
		for i, s := range r.Value {
			pids = append(pids, s.PID)
			file := filepath.Join(o.Out, fileSafe(r.Target.String()), FileName("web", s.ID, s.PID, t0))
			if s.Host != r.Target.String() || s.App != "web" || s.ID != []string{"0", "1"}[i] || s.File != file ||
				s.Bytes != int64(len(snapJSON)) || s.Heap != 10<<20 || s.Remote != fakeSnapPath("/app/.next-deploy/heap", s.PID) || s.Error != "" {
				t.Errorf("result %+v, want web#%d into %s", s, i, file)
			}
			if got, err := os.ReadFile(file); err != nil || string(got) != snapJSON {
				t.Errorf("%s = %q, %v; want the snapshot", file, got, err)
			}
		}
		if !slices.Equal(pids, want[r.Target.String()]) {
			t.Errorf("%s: snapshots of pids %v, want %v", r.Target, pids, want[r.Target.String()])
		}
	}
	for name, want := range map[string][]string{
		"a": {"probe", "take 100", "fetch 100", "remove 100", "take 101", "fetch 101", "remove 101"},
		"b": {"probe", "take 200", "fetch 200", "remove 200"},
	} {
		if got := hosts[name].log(); !slices.Equal(got, want) {
			t.Errorf("host %s ran %v, want %v", name, got, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(o.Out, "*", ".download-*")); len(left) != 0 {
		t.Errorf("downloads left behind: %v", left)
	}
}

// Regression: one host that cannot take a snapshot refuses the whole run
// before any worker anywhere is signalled (a signal without a handler
// kills the worker; a full disk kills the host).
func TestSnapshotsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(conn fakeConn, hosts map[string]*fakeHost, o *SnapshotOptions)
		want  []string
	}{
		{"no disk space", func(_ fakeConn, hs map[string]*fakeHost, _ *SnapshotOptions) { hs["b"].workers[200].free = 10 << 20 },
			[]string{"deploy@10.0.0.2:22: worker web#0", "MiB free", "2 x heap + margin"}},
		{"no handler yet", func(_ fakeConn, hs map[string]*fakeHost, _ *SnapshotOptions) { hs["b"].workers[200].catches = false },
			[]string{"deploy@10.0.0.2:22: worker web#0", "would kill it"}},
		{"worker gone", func(_ fakeConn, hs map[string]*fakeHost, _ *SnapshotOptions) { delete(hs["b"].workers, 200) },
			[]string{"deploy@10.0.0.2:22: worker web#0", "is gone"}},
		{"host unreachable", func(c fakeConn, _ map[string]*fakeHost, _ *SnapshotOptions) { delete(c, "deploy@10.0.0.2:22") },
			[]string{"connect to deploy@10.0.0.2:22"}},
		{"no worker matches", func(_ fakeConn, _ map[string]*fakeHost, o *SnapshotOptions) { o.Workers = []string{"1"} },
			[]string{"deploy@10.0.0.2:22: no online worker matching --workers 1 in /app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, hosts, p, targets := snapFleet()
			o := snapOptions(t, conn, p, targets)
			tc.spoil(conn, hosts, &o)
			results, err := Snapshots(context.Background(), o)
			if !errors.Is(err, ErrRefused) || results != nil {
				t.Fatalf("Snapshots = %v, %v; want refused", results, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for name, h := range hosts {
				if got := h.log(); len(got) > 1 {
					t.Errorf("host %s ran %v after a refusal, want at most the probe", name, got)
				}
			}
			if _, err := os.Stat(o.Out); !os.IsNotExist(err) {
				t.Errorf("--out made after a refusal: %v", err)
			}
		})
	}
}

// A snapshot that arrives cut short is not kept, is still removed from
// the host, and the host's next worker is still taken.
func TestSnapshotsDownloadCutShort(t *testing.T) {
	conn, hosts, p, targets := snapFleet()
	hosts["a"].workers[100].fetched = snapJSON[:20]
	o := snapOptions(t, conn, p, targets)
	results, err := Snapshots(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 hosts did not give every snapshot") || !strings.Contains(err.Error(), "worker web#0") {
		t.Fatalf("Snapshots error %v, want one host failed naming the worker", err)
	}
	a := results[0].Value
	if len(a) != 2 || a[0].Error == "" || a[0].File != "" || a[1].Error != "" || a[1].File == "" {
		t.Fatalf("host a results %+v, want web#0 failed, web#1 downloaded", a)
	}
	want := []string{"probe", "take 100", "fetch 100", "remove 100", "take 101", "fetch 101", "remove 101"}
	if got := hosts["a"].log(); !slices.Equal(got, want) {
		t.Errorf("host a ran %v, want %v", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(o.Out, "*", "*"))
	hidden, _ := filepath.Glob(filepath.Join(o.Out, "*", ".*"))
	if len(files) != 2 || len(hidden) != 0 {
		t.Errorf("files %v (hidden %v), want web#1 of a and web#0 of b only", files, hidden)
	}
}

// --workers picks by pm2 id or app name; a process outside the ecosystem
// is never a worker.
func TestSnapshotsWorkerSelection(t *testing.T) {
	for _, tc := range []struct {
		workers []string
		want    []int
	}{
		{nil, []int{100, 101}},
		{[]string{"1"}, []int{101}},
		{[]string{"web"}, []int{100, 101}},
		{[]string{"0", "1"}, []int{100, 101}},
	} {
		conn, _, p, targets := snapFleet()
		o := snapOptions(t, conn, p, targets[:1])
		o.Workers = tc.workers
		results, err := Snapshots(context.Background(), o)
		if err != nil {
			t.Fatalf("--workers %v: %v", tc.workers, err)
		}
		var got []int
		for _, s := range results[0].Value {
			got = append(got, s.PID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("--workers %v took pids %v, want %v", tc.workers, got, tc.want)
		}
	}
	conn, _, p, targets := snapFleet()
	o := snapOptions(t, conn, p, targets[:1])
	o.Workers = []string{"api"}
	if _, err := Snapshots(context.Background(), o); !errors.Is(err, ErrRefused) {
		t.Errorf("--workers api (not in the ecosystem) = %v, want refused", err)
	}
}

func TestFileName(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if got, want := FileName("my app", "0", 4242, at), "my_app-0-pid4242-20260102T020405Z.heapsnapshot"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
}

// A snapshot's local directory is named after the host, safely on any
// system.
func TestFileSafe(t *testing.T) {
	for in, want := range map[string]string{
		"deploy@10.0.0.5:22": "deploy@10.0.0.5_22", "local": "local", "u@[::1]:2222": "u@___1__2222", "../x": ".._x",
	} {
		if got := fileSafe(in); got != want {
			t.Errorf("fileSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
