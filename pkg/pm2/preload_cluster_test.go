package pm2_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
)

// primaryJS is a cluster primary as pm2's daemon is one: it forks the
// app with the preload, waits for 'ready', sends SIGINT, and then stays
// busy (its event loop blocked) across the moment the worker closes its
// server, as a loaded pm2 daemon does. At the end of the block it looks,
// before reading any message, whether the worker has exited already.
const primaryJS = `'use strict';
const cluster = require('cluster');
const fs = require('fs');
const [app, preload, drainMs, blockMs] = process.argv.slice(2);
cluster.setupPrimary({ exec: app, execArgv: ['--require', preload], silent: true });
const w = cluster.fork({ HOSTNAME: '127.0.0.1', PORT: '0', NEXT_DEPLOY_DRAIN_MS: drainMs, NEXT_DEPLOY_MEM_MS: '0' });
function state(pid) {
  try { return fs.readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1][0]; } catch (e) { return 'gone'; }
}
const out = { disconnected: false };
w.on('disconnect', () => { out.disconnected = true; });
w.on('exit', (code) => {
  out.code = code;
  out.exitedAfterDisconnect = w.exitedAfterDisconnect;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
});
w.on('message', (m) => {
  if (m !== 'ready') return;
  const pid = w.process.pid;
  process.kill(pid, 'SIGINT');
  setTimeout(() => {
    const until = Date.now() + Number(blockMs);
    while (Date.now() < until) { /* busy */ }
    out.afterBlock = state(pid);
  }, Number(drainMs) - 100);
});
`

// The hang of issue 15: a worker that exits as soon as its server closes
// can take with it a connection the primary handed over before reading
// the 'close'; the client then waits forever for headers. The preload
// leaves the cluster first (cluster.worker.disconnect, a round trip on
// the ordered IPC channel) and exits only once the primary has answered:
// while the primary is busy, the worker stays alive to send such a
// connection back. The app's SIGINT handler still runs (exit code 0).
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
	cmd := exec.Command(node, filepath.Join(dir, "primary.js"), filepath.Join(dir, "server.js"), filepath.Join(dir, "drain.cjs"), "300", "1500")
	cmd.Stderr = os.Stderr
	done := make(chan struct{})
	var out []byte
	go func() {
		defer close(done)
		out, err = cmd.Output()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("the primary did not end")
	}
	if err != nil {
		t.Fatalf("primary: %v\n%s", err, out)
	}
	var got struct {
		AfterBlock            string
		Disconnected          bool
		ExitedAfterDisconnect bool
		Code                  int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("primary said %q: %v", out, err)
	}
	t.Logf("primary saw: %s", out)
	if got.AfterBlock == "Z" || got.AfterBlock == "gone" {
		t.Errorf("the worker exited while the primary was busy (state %q): a connection handed to it then is lost", got.AfterBlock)
	}
	if !got.Disconnected || !got.ExitedAfterDisconnect {
		t.Errorf("disconnected %v, exitedAfterDisconnect %v: want the worker to leave the cluster before it exits", got.Disconnected, got.ExitedAfterDisconnect)
	}
	if got.Code != 0 {
		t.Errorf("worker exit code %d, want 0 (the app's SIGINT handler ran)", got.Code)
	}
}
