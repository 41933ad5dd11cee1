package build

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func touch(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		if strings.HasSuffix(n, "/") {
			must(t, os.MkdirAll(p, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte("{}"), 0o644))
	}
}

func TestDetectPackageManager(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		dir     string
		want    string
		install string
		err     string
	}{
		{"npm", []string{"package-lock.json"}, ".", "npm", "npm ci --no-audit --no-fund", ""},
		{"shrinkwrap", []string{"npm-shrinkwrap.json"}, ".", "npm", "npm ci --no-audit --no-fund", ""},
		{"pnpm", []string{"pnpm-lock.yaml"}, ".", "pnpm", "pnpm install --frozen-lockfile", ""},
		{"yarn 1", []string{"yarn.lock"}, ".", "yarn", "yarn install --frozen-lockfile", ""},
		{"yarn berry", []string{"yarn.lock", ".yarnrc.yml"}, ".", "yarn", "yarn install --immutable", ""},
		{"bun", []string{"bun.lock"}, ".", "bun", "bun install --frozen-lockfile", ""},
		{"monorepo root lockfile", []string{"pnpm-lock.yaml", "apps/web/package.json"}, "apps/web", "pnpm", "pnpm install --frozen-lockfile", ""},
		{"two managers", []string{"package-lock.json", "yarn.lock"}, ".", "", "", "both npm and yarn"},
		{"stops at .git", []string{"repo/.git/", "repo/app/package.json"}, "repo/app", "", "", "no lockfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			// A lockfile above the repository must not be picked up.
			touch(t, root, "package-lock.json")
			base := filepath.Join(root, "w")
			touch(t, base, tc.files...)
			pm, err := DetectPackageManager(filepath.Join(base, tc.dir))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pm.Name != tc.want || strings.Join(pm.InstallCommand(), " ") != tc.install || pm.Root != base {
				t.Errorf("got %+v (%q), want %s in %s", pm, pm.InstallCommand(), tc.want, base)
			}
		})
	}
}

func TestReadMemory(t *testing.T) {
	gib := int64(1 << 30)
	for _, tc := range []struct {
		name   string
		files  map[string]string
		want   int64
		source string
	}{
		{"machine only", nil, 8 * gib, "/proc/meminfo"},
		{"cgroup v2 limit", map[string]string{
			"proc/self/cgroup":                "0::/ci/job\n",
			"sys/fs/cgroup/ci/job/memory.max": "2147483648\n",
			"sys/fs/cgroup/ci/memory.max":     "max\n",
		}, 2 * gib, "sys/fs/cgroup/ci/job/memory.max"},
		{"parent cgroup is smaller", map[string]string{
			"proc/self/cgroup":                "0::/ci/job\n",
			"sys/fs/cgroup/ci/job/memory.max": "max\n",
			"sys/fs/cgroup/ci/memory.max":     "1073741824\n",
		}, gib, "sys/fs/cgroup/ci/memory.max"},
		{"cgroup v1", map[string]string{
			"proc/self/cgroup": "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "3221225472\n",
		}, 3 * gib, "memory.limit_in_bytes"},
		{"cgroup v1 unlimited", map[string]string{
			"proc/self/cgroup":                           "4:memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 8 * gib, "/proc/meminfo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := t.TempDir()
			files := map[string]string{"proc/meminfo": "MemTotal:        8388608 kB\nMemFree: 1 kB\n"}
			for k, v := range tc.files {
				files[k] = v
			}
			for name, body := range files {
				p := filepath.Join(sys, name)
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				must(t, os.WriteFile(p, []byte(body), 0o644))
			}
			m, err := ReadMemory(sys)
			if err != nil {
				t.Fatal(err)
			}
			if m.Bytes != tc.want || !strings.HasSuffix(m.Source, tc.source) {
				t.Errorf("ReadMemory = %d from %s, want %d from ...%s", m.Bytes, m.Source, tc.want, tc.source)
			}
			if m.HeapMiB() != max(tc.want>>20*3/4, 256) {
				t.Errorf("HeapMiB = %d", m.HeapMiB())
			}
		})
	}
}

func TestOOMKillsReadsTheCgroupCounter(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "proc/self/")
	must(t, os.WriteFile(filepath.Join(sys, "proc/meminfo"), []byte("MemTotal: 1024 kB\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(sys, "proc/self/cgroup"), []byte("0::/job\n"), 0o644))
	touch(t, sys, "sys/fs/cgroup/job/")
	must(t, os.WriteFile(filepath.Join(sys, "sys/fs/cgroup/job/memory.events"), []byte("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n"), 0o644))
	m, err := ReadMemory(sys)
	must(t, err)
	if n, ok := m.OOMKills(); !ok || n != 2 {
		t.Errorf("OOMKills = %d, %v; want 2, true", n, ok)
	}
}

func TestClassifyOOM(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    outcome
		want string
	}{
		{"heap limit", outcome{tail: []byte("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory")}, OOMHeap},
		{"cgroup counter", outcome{oomKills: 1}, OOMKilled},
		{"sigkill", outcome{sigkilled: true}, OOMKilled},
		{"worker sigkill", outcome{tail: []byte("Next.js build worker exited with code: null and signal: SIGKILL")}, OOMKilled},
		{"type error", outcome{tail: []byte("Type error: x is not assignable")}, ""},
		{"canceled", outcome{sigkilled: true, canceled: true}, ""},
	} {
		if got, _ := classifyOOM(tc.o); got != tc.want {
			t.Errorf("%s: classifyOOM = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestOOMErrorSaysWhatToChange(t *testing.T) {
	heap := (&OOMError{Kind: OOMHeap, HeapMiB: 1024, MemoryMiB: 8192, PeakMiB: 1500, Evidence: "Reached heap limit"}).Error()
	for _, want := range []string{"1024 MiB", "raise --memory", "6144 MiB"} {
		if !strings.Contains(heap, want) {
			t.Errorf("%q does not say %q", heap, want)
		}
	}
	full := (&OOMError{Kind: OOMHeap, HeapMiB: 6144, MemoryMiB: 8192}).Error()
	if !strings.Contains(full, "runner with more memory") {
		t.Errorf("%q should send the user to a bigger runner", full)
	}
	killed := (&OOMError{Kind: OOMKilled, HeapMiB: 6144, MemoryMiB: 2048, PeakMiB: 2040}).Error()
	if !strings.Contains(killed, "Lower --memory (for example 1024)") {
		t.Errorf("%q does not suggest a lower --memory", killed)
	}
}

func TestTreeRSSCountsDescendantsAndGroup(t *testing.T) {
	proc := t.TempDir()
	stat := func(pid, comm string, ppid, pgrp, rss int) {
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
		// majflt cmajflt utime stime cutime cstime priority nice threads
		// itrealvalue starttime vsize rss
		line := pid + " (" + comm + ") S " + strconv.Itoa(ppid) + " " + strconv.Itoa(pgrp) + " 0 0 0 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 " + strconv.Itoa(rss) + " 0 0\n"
		touch(t, proc, pid+"/")
		must(t, os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(line), 0o644))
	}
	stat("100", "node", 1, 100, 10)            // the build
	stat("101", "node (worker)", 100, 100, 20) // child; comm with spaces and parens
	stat("102", "esbuild", 101, 102, 40)       // grandchild in its own group
	stat("103", "orphan", 1, 100, 80)          // reparented, still in the group
	stat("200", "other", 1, 200, 1000)         // not ours
	if got := treeRSS(proc, 100); got != 150 {
		t.Errorf("treeRSS = %d pages, want 150", got)
	}
}
