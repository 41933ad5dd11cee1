package heap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/remote"
)

// fakeWorker is what a fake host says about a worker's process.
type fakeWorker struct {
	signal  string
	catches bool
	dir     string
	free    int64
	// snapshot is what the worker writes; fetched is what a download
	// gets (default: snapshot).
	snapshot, fetched string
}

// fakeHost answers heap's own scripts, telling them apart by equality,
// and records what ran.
type fakeHost struct {
	name    string
	workers map[int]*fakeWorker

	mu      sync.Mutex
	ran     []string // "probe", "take 100", "fetch 100", "remove 100"
	removed []string
}

func (h *fakeHost) Name() string { return h.name }

func (h *fakeHost) Run(_ context.Context, c remote.Cmd) (*remote.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch c.Script {
	case probeScript:
		h.ran = append(h.ran, "probe")
		var out strings.Builder
		for i := 0; i+2 < len(c.Args); i += 3 {
			pid, _ := strconv.Atoi(c.Args[i])
			w := h.workers[pid]
			if w == nil {
				fmt.Fprintf(&out, "G\t%d\n", pid)
				continue
			}
			mask := "0"
			if w.catches {
				mask = strconv.FormatUint(1<<(signals[w.signal]-1), 16)
			}
			fmt.Fprintf(&out, "W\t%d\t%s\t%s\t%d\t%s\n", pid, w.signal, mask, w.free/1024, w.dir)
		}
		return &remote.Result{Stdout: []byte(out.String())}, nil
	case takeScript:
		pid, _ := strconv.Atoi(c.Args[0])
		h.ran = append(h.ran, "take "+c.Args[0])
		w := h.workers[pid]
		return &remote.Result{Stdout: fmt.Appendf(nil, "%d\t%s\n", len(w.snapshot), fakeSnapPath(w.dir, pid))}, nil
	case fetchScript:
		pid := pidOf(c.Args[0])
		h.ran = append(h.ran, "fetch "+strconv.Itoa(pid))
		w := h.workers[pid]
		body := w.fetched
		if body == "" {
			body = w.snapshot
		}
		_, err := io.WriteString(c.Stdout, body)
		return &remote.Result{}, err
	case removeScript:
		h.ran = append(h.ran, "remove "+strconv.Itoa(pidOf(c.Args[0])))
		h.removed = append(h.removed, c.Args[0])
		return &remote.Result{}, nil
	}
	return nil, fmt.Errorf("fake host %s: unexpected script %.40q", h.name, c.Script)
}

func (h *fakeHost) DialTCP(context.Context, string) (net.Conn, error) {
	return nil, errors.New("fake host: no tcp")
}

func (h *fakeHost) Close() error { return nil }

func (h *fakeHost) log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ran...)
}

func fakeSnapPath(dir string, pid int) string {
	return fmt.Sprintf("%s/Heap.20260102.030405.%d.0.001.heapsnapshot", dir, pid)
}

func pidOf(path string) int {
	m := snapName.FindStringSubmatch(path[strings.LastIndexByte(path, '/')+1:])
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// fakeConn hands out fake hosts by target; a target it lacks cannot be
// reached.
type fakeConn map[string]remote.Host

func (c fakeConn) Get(_ context.Context, t inventory.Target) (remote.Host, error) {
	if h := c[t.String()]; h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("connect to %s: connection refused", t)
}

// fakePM2 answers Inspect and StatusMemory per host name, counting
// calls. procs, when set, makes each StatusMemory's answer (n counts
// the host's calls from 1).
type fakePM2 struct {
	site        map[string]*pm2.Site
	inspectErrs map[string][]error // per host, one per call, then none
	statusErrs  map[string]map[int]error
	procs       func(host string, n int) []pm2.Proc

	mu       sync.Mutex
	inspects map[string]int
	statuses map[string]int
}

func (f *fakePM2) Inspect(_ context.Context, h remote.Host) (*pm2.Site, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inspects == nil {
		f.inspects = map[string]int{}
	}
	n := f.inspects[h.Name()]
	f.inspects[h.Name()]++
	if errs := f.inspectErrs[h.Name()]; n < len(errs) && errs[n] != nil {
		return nil, errs[n]
	}
	if s := f.site[h.Name()]; s != nil {
		return s, nil
	}
	return testSite, nil
}

func (f *fakePM2) StatusMemory(_ context.Context, h remote.Host) ([]pm2.Proc, error) {
	f.mu.Lock()
	if f.statuses == nil {
		f.statuses = map[string]int{}
	}
	f.statuses[h.Name()]++
	n := f.statuses[h.Name()]
	f.mu.Unlock()
	if err := f.statusErrs[h.Name()][n]; err != nil {
		return nil, err
	}
	return f.procs(h.Name(), n), nil
}

func (f *fakePM2) count(host string) (inspects, statuses int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inspects[host], f.statuses[host]
}

// testSite is a deploy root with one app, web.
var testSite = &pm2.Site{Root: "/app", RealRoot: "/app", Apps: []pm2.App{{Name: "web"}}}

// tgt makes the inventory entry deploy@<host>:22.
func tgt(host string) inventory.Target {
	return inventory.Target{User: "deploy", Host: host, Port: 22}
}
