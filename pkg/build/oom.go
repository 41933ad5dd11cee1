package build

import (
	"bytes"
	"fmt"
	"sync"
)

// OOM kinds.
const (
	// OOMHeap: V8 reached its heap limit and aborted ("JavaScript heap out
	// of memory"): the limit was too low for the app, or the app too big
	// for the machine.
	OOMHeap = "heap"
	// OOMKilled: the kernel (or the container's cgroup) killed a build
	// process with SIGKILL for lack of memory: the heap limit was above
	// what the machine could give.
	OOMKilled = "killed"
)

// OOMError is a build that ran out of memory, with what the user can
// change. It replaces the bare "exit status 134" or "signal: killed".
type OOMError struct {
	Kind string
	// HeapMiB is the V8 heap limit the build ran with.
	HeapMiB int64
	// MemoryMiB is the memory available (machine or cgroup).
	MemoryMiB int64
	// PeakMiB is the build's process tree's peak resident memory.
	PeakMiB int64
	// Evidence is the log line or signal that gave it away.
	Evidence string
}

func (e *OOMError) Error() string {
	if e.Kind == OOMHeap {
		advice := fmt.Sprintf("raise --memory (up to about %d MiB here), or build on a runner with more memory", e.MemoryMiB*3/4)
		if e.HeapMiB >= e.MemoryMiB*3/4 {
			advice = "--memory is already at 3/4 of this machine's memory: build on a runner with more memory"
		}
		return fmt.Sprintf("next build ran out of JavaScript heap (%s): V8's heap limit of %d MiB was reached; "+
			"the build's processes peaked at %d MiB of %d MiB available. %s; "+
			"big apps can also save memory with fewer build workers (experimental.cpus in next.config)",
			e.Evidence, e.HeapMiB, e.PeakMiB, e.MemoryMiB, advice)
	}
	return fmt.Sprintf("next build was killed (%s), most likely by the kernel's OOM killer for lack of memory; "+
		"the build's processes peaked at %d MiB of %d MiB available, with a heap limit of %d MiB. "+
		"Lower --memory (for example %d) so V8 collects garbage before the machine runs out, "+
		"use fewer build workers (experimental.cpus: 1 in next.config), or build on a runner with more memory",
		e.Evidence, e.PeakMiB, e.MemoryMiB, e.HeapMiB, max(e.MemoryMiB/2, 256))
}

// Lines of a build log that mean V8 hit its heap limit, and ones that mean
// a worker was killed (Next prints the worker's signal).
var (
	heapMarkers = [][]byte{
		[]byte("JavaScript heap out of memory"),
		[]byte("Reached heap limit"),
		[]byte("heap limit Allocation failed"),
	}
	killMarkers = [][]byte{
		[]byte("signal: SIGKILL"),
		[]byte("signal SIGKILL"),
		[]byte("killed with SIGKILL"), // pnpm exec's report of its child
	}
)

// outcome is what is known when next build has failed.
type outcome struct {
	tail      []byte // the end of its log
	sigkilled bool   // the main process died of SIGKILL
	oomKills  int64  // rise of the cgroup's oom_kill counter
	canceled  bool   // we killed it (context canceled)
}

// classifyOOM says whether a failed build ran out of memory, and how. It
// returns "" when the failure is something else.
func classifyOOM(o outcome) (kind, evidence string) {
	if o.canceled {
		return "", ""
	}
	for _, m := range heapMarkers {
		if bytes.Contains(o.tail, m) {
			return OOMHeap, string(m)
		}
	}
	if o.oomKills > 0 {
		return OOMKilled, fmt.Sprintf("the cgroup's oom_kill counter rose by %d", o.oomKills)
	}
	if o.sigkilled {
		return OOMKilled, "next build died of SIGKILL"
	}
	for _, m := range killMarkers {
		if bytes.Contains(o.tail, m) {
			return OOMKilled, "a build worker exited with " + string(m)
		}
	}
	return "", ""
}

// tailBuffer keeps the last max bytes written to it: enough of the log to
// recognize how the build ended, without holding all of it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf)
}
