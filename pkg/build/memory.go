package build

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Memory is how much memory the build may use: the machine's, or less when
// the runner is a container or a systemd slice with a cgroup limit. A build
// sized from the machine inside a smaller cgroup is killed by the kernel
// without a word, which is exactly the failure this guards against.
type Memory struct {
	// Bytes is the smaller of the machine's memory and the cgroup limit.
	Bytes int64 `json:"bytes"`
	// Source says where Bytes comes from, for the log.
	Source string `json:"source"`
	// cgroup is the cgroup v2 directory of this process, "" without one.
	cgroup string
}

// ReadMemory reads the memory available to this process under sys (the
// file system root, "/" outside tests): /proc/meminfo, then the cgroup v2
// limits of this process's cgroup and its ancestors, or the cgroup v1
// memory controller's limit.
func ReadMemory(sys string) (Memory, error) {
	total, err := memTotal(filepath.Join(sys, "proc/meminfo"))
	if err != nil {
		return Memory{}, err
	}
	m := Memory{Bytes: total, Source: "/proc/meminfo"}
	v2, v1 := cgroupPaths(filepath.Join(sys, "proc/self/cgroup"))
	if v2 != "" {
		m.cgroup = filepath.Join(sys, "sys/fs/cgroup", v2)
		// The effective limit is the smallest along the path to the root.
		for d := m.cgroup; strings.HasPrefix(d, filepath.Join(sys, "sys/fs/cgroup")); d = filepath.Dir(d) {
			if n, ok := readLimit(filepath.Join(d, "memory.max")); ok && n < m.Bytes {
				m.Bytes, m.Source = n, filepath.Join(d, "memory.max")
			}
		}
	}
	if v1 != "" {
		p := filepath.Join(sys, "sys/fs/cgroup/memory", v1, "memory.limit_in_bytes")
		if n, ok := readLimit(p); ok && n < m.Bytes {
			m.Bytes, m.Source = n, p
		}
	}
	return m, nil
}

// MiB is Bytes in MiB.
func (m Memory) MiB() int64 { return m.Bytes >> 20 }

// HeapMiB is the V8 old-space limit for a build in this much memory: three
// quarters of it, so the collector works hard before the kernel's OOM
// killer does (a heap limit error names the problem; SIGKILL does not),
// and what is left covers native memory, SWC/Turbopack and the workers.
// Never under 256 MiB: below that next build cannot even start.
func (m Memory) HeapMiB() int64 {
	return max(m.MiB()*3/4, 256)
}

// OOMKills is the cgroup v2 oom_kill counter of this process's cgroup: it
// rises when the kernel kills a process of the cgroup for lack of memory.
// ok is false where there is no cgroup v2 (the counter is then unknown).
func (m Memory) OOMKills() (n int64, ok bool) {
	if m.cgroup == "" {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(m.cgroup, "memory.events"))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, found := strings.CutPrefix(line, "oom_kill "); found {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func memTotal(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read machine memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read machine memory: %s: %w", path, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("read machine memory: no MemTotal in %s", path)
}

// cgroupPaths reads /proc/self/cgroup: the v2 path ("0::/path") and the v1
// memory controller's path ("N:memory:/path" or "N:...,memory,...:/path").
func cgroupPaths(path string) (v2, v1 string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", ""
	}
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "memory" {
				v1 = parts[2]
			}
		}
	}
	return v2, v1
}

// readLimit reads a cgroup limit; "max" and v1's near-2^63 "unlimited" are
// no limit.
func readLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
