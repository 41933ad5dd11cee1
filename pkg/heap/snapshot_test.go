package heap

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// startNode runs node with args and a script that keeps some heap.
func startNode(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed")
		}
		t.Skip("node not installed")
	}
	cmd := exec.Command(node, append(args, "-e", `globalThis.keep = Array.from({ length: 1e5 }, (_, i) => 'item ' + i); setInterval(() => {}, 1000);`)...)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func probe(t *testing.T, h remote.Host, pid int) Probe {
	t.Helper()
	ps, err := ProbeWorkers(context.Background(), h, []Worker{{PID: pid}})
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

// A heap snapshot through a host: the probe sees the signal, the
// directory and the free space, Take waits for the complete file, Fetch
// brings back a heap snapshot, Remove leaves nothing; the worker lives on.
func TestSnapshotOnLocalHost(t *testing.T) {
	h := remote.NewLocal()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state", "heap")
	cmd := startNode(t, "--heapsnapshot-signal=SIGUSR2", "--diagnostic-dir="+dir)
	var p Probe
	deadline := time.Now().Add(10 * time.Second)
	for p = probe(t, h, cmd.Process.Pid); !p.Catches; p = probe(t, h, cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("node never caught SIGUSR2: %+v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.Signal != "SIGUSR2" || p.Dir != dir || p.Free <= 0 || p.Gone {
		t.Fatalf("probe %+v, want SIGUSR2 into %s with free space", p, dir)
	}
	if err := p.Check(1<<20, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(1<<20, 1<<62); err == nil || !strings.Contains(err.Error(), "free") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Check with a margin larger than the disk = %v, want a refusal naming the dir and the numbers", err)
	}
	s, err := Take(ctx, h, p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Fetch(ctx, h, &buf); err != nil {
		t.Fatal(err)
	}
	var snap map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &snap); err != nil || snap["snapshot"] == nil || snap["nodes"] == nil || snap["strings"] == nil {
		t.Fatalf("fetched %d bytes, not a heap snapshot: %v", buf.Len(), err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("item 99999")) {
		t.Error("the snapshot does not hold the worker's strings")
	}
	if err := s.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left on the host: %v", left)
	}
	if p := probe(t, h, cmd.Process.Pid); p.Gone {
		t.Error("the worker died of its heap snapshot")
	}
}

// A worker started without --heapsnapshot-signal would die of the
// signal: refused, with the fix.
func TestSnapshotRefusedWithoutTheSignal(t *testing.T) {
	h := remote.NewLocal()
	cmd := startNode(t)
	p := probe(t, h, cmd.Process.Pid)
	if err := p.Check(0, 0); err == nil || !strings.Contains(err.Error(), "--heapsnapshot-signal") {
		t.Errorf("Check = %v, want a refusal saying how to add the flag", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if p := probe(t, h, cmd.Process.Pid); !p.Gone || p.Check(0, 0) == nil {
		t.Errorf("probe of an exited process %+v, want gone and refused", p)
	}
}

// Fetch and Remove touch heap snapshot files only, whatever path they
// are given.
func TestSnapshotPathsAreChecked(t *testing.T) {
	h := remote.NewLocal()
	victim := filepath.Join(t.TempDir(), "keep.txt")
	if err := os.WriteFile(victim, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{victim, "/tmp/../etc/Heap.1.2.3.4.5.heapsnapshot", "Heap.1.2.3.4.5.heapsnapshot", "/tmp/Heap.1.2.99.4.5.heapsnapshot"} {
		s := &Snapshot{PID: 3, Path: p}
		if err := s.Remove(context.Background(), h); err == nil {
			t.Errorf("Remove(%q) accepted", p)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("a file that is no snapshot was removed: %v", err)
	}
}
