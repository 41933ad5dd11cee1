package pm2_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
)

// primaryJS is a cluster primary as pm2's daemon is one (round-robin:
// it accepts every connection and hands it to a worker). It forks two
// workers of the app with the preload, a then b, sends SIGINT to a (it
// drains for drainMs, then closes its server) and, from 50 ms before a
// closes until blockMs later, is busy: its event loop blocked, as a
// loaded pm2 daemon's is. It says "busy" on stdout when the block starts
// and, at the end, one JSON line: whether a was still alive when the
// block ended (before any message was read), and how a ended.
const primaryJS = `'use strict';
const cluster = require('cluster');
const fs = require('fs');
const [app, preload, port, drainMs, blockMs] = process.argv.slice(2);
cluster.setupPrimary({ exec: app, execArgv: ['--require', preload], silent: true });
function fork() {
  return new Promise((resolve) => {
    const w = cluster.fork({ HOSTNAME: '127.0.0.1', PORT: port, NEXT_DEPLOY_DRAIN_MS: drainMs, NEXT_DEPLOY_MEM_MS: '0' });
    w.on('message', (m) => { if (m === 'ready') resolve(w); });
  });
}
function state(pid) {
  try { return fs.readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1][0]; } catch (e) { return 'gone'; }
}
(async () => {
  const a = await fork();
  const b = await fork();
  const out = {};
  a.on('exit', (code) => {
    out.code = code;
    out.exitedAfterDisconnect = a.exitedAfterDisconnect;
  });
  process.stdin.once('data', () => { // the test is done
    process.stdout.write(JSON.stringify(out) + '\n');
    b.kill();
    process.exit(0);
  });
  process.stdout.write('ready\n');
  process.kill(a.process.pid, 'SIGINT');
  setTimeout(() => {
    fs.writeSync(1, 'busy\n');
    const until = Date.now() + Number(blockMs);
    while (Date.now() < until) { /* busy */ }
    out.afterBlock = state(a.process.pid);
  }, Number(drainMs) - 50);
})();
`

// The hang of issue 15, reproduced: a worker that exits as soon as its
// server closes (Next's SIGINT handler calls process.exit) while its
// primary is busy. The primary reads a connection that came in before
// the worker's 'close' and hands it to that worker, which is gone: the
// primary keeps the connection open and the client waits for headers
// forever. The preload leaves the cluster before exiting
// (cluster.worker.disconnect: a round trip on the ordered IPC channel),
// so the worker is alive to send the connection back; the other worker
// answers it. The app's SIGINT handler still runs (exit code 0).
func TestPreloadLeavesTheClusterBeforeExiting(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed")
		}
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	files := (pm2test.Release{ID: "k1"}).Files()
	files["drain.cjs"] = string(pm2.Preload)
	files["primary.js"] = primaryJS
	for name, content := range files {
		f := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	cmd := exec.Command(node, filepath.Join(dir, "primary.js"), filepath.Join(dir, "server.js"), filepath.Join(dir, "drain.cjs"), port, "300", "600")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewReader(stdout)
	expect := func(want string) {
		t.Helper()
		got, err := lines.ReadString('\n')
		if err != nil || strings.TrimSpace(got) != want {
			t.Fatalf("primary said %q, %v; want %q", got, err, want)
		}
	}
	expect("ready")
	expect("busy")
	// In the kernel's queue before the worker's 'close' reaches the
	// primary, which reads it when its block ends.
	code, err := getWithin(net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil || code != 200 {
		t.Errorf("GET during the busy primary: %d, %v; want 200 (the connection went to the leaving worker)", code, err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := io.WriteString(stdin, "done\n"); err != nil {
		t.Fatal(err)
	}
	line, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("primary: %v", err)
	}
	var got struct {
		AfterBlock            string
		ExitedAfterDisconnect bool
		Code                  *int
	}
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("primary said %q: %v", line, err)
	}
	t.Logf("primary saw: %s", strings.TrimSpace(line))
	if got.AfterBlock == "Z" || got.AfterBlock == "gone" {
		t.Errorf("the worker exited while the primary was busy (state %q)", got.AfterBlock)
	}
	if !got.ExitedAfterDisconnect {
		t.Error("the worker did not leave the cluster before it exited")
	}
	if got.Code == nil || *got.Code != 0 {
		t.Errorf("worker exit code %v, want 0 (the app's SIGINT handler ran)", got.Code)
	}
}

// getWithin sends one GET on a new connection and waits at most d for
// the answer.
func getWithin(addr string, d time.Duration) (int, error) {
	c := &http.Client{Timeout: d, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
