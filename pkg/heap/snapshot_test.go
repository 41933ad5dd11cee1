package heap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// snapJSON is a heap snapshot as small as it gets.
const snapJSON = `{"snapshot":{},"nodes":[],"strings":["item"]}`

// startShWorker runs a sh that does what node does on its heap snapshot
// signal: writes Heap.<date>.<time>.<pid>.<tid>.<seq>.heapsnapshot into
// dir, numbering each. The scripts run on a real sh without node.
func startShWorker(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	script := `n=0
trap 'n=$((n + 1)); printf "%s" "$1" > "$2/Heap.20260102.030405.$$.0.$n.heapsnapshot"' USR2
while :; do sleep 0.05; done`
	cmd := exec.Command("/bin/sh", "-c", script, "worker", snapJSON, dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// The scripts on a real sh: probe, take (twice: the second snapshot is
// the new file, never the one already there), fetch and remove.
func TestSnapshotScriptsOnSh(t *testing.T) {
	h := remote.NewLocal()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "heap")
	cmd := startShWorker(t, dir)
	w := []Worker{{PID: cmd.Process.Pid, Signal: "SIGUSR2", Dir: dir}}
	var p Probe
	for deadline := time.Now().Add(10 * time.Second); !p.Catches; time.Sleep(20 * time.Millisecond) {
		ps, err := ProbeWorkers(ctx, h, w)
		if err != nil {
			t.Fatal(err)
		}
		if p = ps[0]; time.Now().After(deadline) {
			t.Fatalf("the worker never caught SIGUSR2: %+v", p)
		}
	}
	if p.Dir != dir || p.Free <= 0 || p.Gone || p.Check(0, 0) != nil {
		t.Fatalf("probe %+v, want SIGUSR2 into %s with free space", p, dir)
	}
	var paths []string
	for i := range 2 {
		s, err := Take(ctx, h, p, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s/Heap.20260102.030405.%d.0.%d.heapsnapshot", dir, p.PID, i+1); s.Path != want || s.Size != int64(len(snapJSON)) {
			t.Fatalf("take %d = %+v, want %s of %d bytes", i+1, s, want, len(snapJSON))
		}
		var buf bytes.Buffer
		if err := s.Fetch(ctx, h, &buf); err != nil || buf.String() != snapJSON {
			t.Fatalf("fetch %s = %q, %v", s.Path, buf.String(), err)
		}
		paths = append(paths, s.Path)
	}
	for _, path := range paths {
		if err := (&Snapshot{PID: p.PID, Path: path}).Remove(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left on the host: %v", left)
	}
}

// The scripts refuse, on the host too, a path that is no heap snapshot
// (the second line of defence behind Snapshot.check).
func TestSnapshotScriptsRefuseOtherFiles(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "keep.txt")
	if err := os.WriteFile(victim, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{fetchScript, removeScript} {
		_, err := remote.NewLocal().Run(context.Background(), remote.Cmd{Script: script, Args: []string{victim, snapPrefix, snapSuffix}})
		if err == nil || !strings.Contains(err.Error(), "not a heap snapshot") {
			t.Errorf("%.20q on %s = %v, want refused", script, victim, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("a file that is no snapshot was removed: %v", err)
	}
}
