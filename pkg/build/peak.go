package build

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Peak memory of the whole build: next build forks workers (type checking,
// static generation, the webpack build worker) whose memory counts as much
// as the main process's. We sample /proc rather than use a cgroup: the
// runner's own cgroup also holds the runner agent and earlier steps, and a
// child cgroup of our own needs delegation that a CI runner rarely grants.
//
// Every interval the RSS of every process of the tree is summed: the
// descendants of the build (by parent pid) and, for processes reparented
// when their parent exited, members of the build's process group. RSS
// counts pages shared between processes once per process, so the sum
// slightly overstates; a spike shorter than the interval can be missed, so
// the caller also takes the largest single process's max RSS from wait4.

// treePeak samples a process tree until stop is called.
type treePeak struct {
	proc     string // "/proc" outside tests
	root     int
	interval time.Duration
	pageSize int64

	mu   sync.Mutex
	peak int64

	quit chan struct{}
	done chan struct{}
}

func startTreePeak(proc string, root int, interval time.Duration) *treePeak {
	t := &treePeak{
		proc: proc, root: root, interval: interval, pageSize: int64(os.Getpagesize()),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	go t.loop()
	return t
}

func (t *treePeak) loop() {
	defer close(t.done)
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		t.sample()
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
	}
}

// stop ends the sampling and returns the peak in bytes.
func (t *treePeak) stop() int64 {
	close(t.quit)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peak
}

func (t *treePeak) sample() {
	sum := treeRSS(t.proc, t.root) * t.pageSize
	t.mu.Lock()
	t.peak = max(t.peak, sum)
	t.mu.Unlock()
}

// procStat is what one /proc/<pid>/stat line says that we need.
type procStat struct {
	ppid, pgrp int
	rssPages   int64
}

// treeRSS sums the resident pages of root and every process descending
// from it or in its process group.
func treeRSS(proc string, root int) int64 {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return 0
	}
	stats := map[int]procStat{}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readProcStat(filepath.Join(proc, e.Name(), "stat"))
		if !ok {
			continue // exited between ReadDir and here
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	in := map[int]bool{}
	queue := []int{root}
	for pid, st := range stats {
		if st.pgrp == root {
			queue = append(queue, pid)
		}
	}
	var sum int64
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		st, ok := stats[pid]
		if in[pid] || !ok {
			continue
		}
		in[pid] = true
		sum += st.rssPages
		queue = append(queue, children[pid]...)
	}
	return sum
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) may
// hold spaces and parentheses, so fields are counted from the last ')'.
func readProcStat(path string) (procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	// After ')': state(3) ppid(4) pgrp(5) ... rss(24).
	f := bytes.Fields(b[i+1:])
	if len(f) < 22 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	rss, err3 := strconv.ParseInt(string(f[21]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, false
	}
	return procStat{ppid: ppid, pgrp: pgrp, rssPages: rss}, true
}
