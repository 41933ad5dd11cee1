package pm2_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
)

// app is the tiny server run by node, with or without the preload, with
// an IPC channel on fd 3 (what a pm2 cluster worker has).
type app struct {
	cmd  *exec.Cmd
	addr string
	ipc  *bufio.Reader
	done chan struct{} // closed when the process has exited, err set
	err  error
}

func startApp(t *testing.T, preload bool) *app {
	t.Helper()
	return startAppWith(t, appOpts{preload: preload})
}

// appOpts are more ways to start the app.
type appOpts struct {
	preload  bool
	env      []string // more variables
	nodeArgs []string // after the preload
	dir      string   // where the release and the preload go (default: a temp dir)
}

func startAppWith(t *testing.T, o appOpts) *app {
	t.Helper()
	preload := o.preload
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed")
		}
		t.Skip("node not installed")
	}
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	for name, content := range (pm2test.Release{ID: "d1"}).Files() {
		f := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "drain.cjs"), pm2.Preload, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ipc"), os.NewFile(uintptr(fds[1]), "ipc-child")
	args := []string{filepath.Join(dir, "server.js")}
	args = append(append([]string{}, o.nodeArgs...), args...)
	if preload {
		args = append([]string{"--require", filepath.Join(dir, "drain.cjs")}, args...)
	}
	cmd := exec.Command(node, args...)
	cmd.Env = append(os.Environ(), "HOSTNAME=127.0.0.1", "PORT="+port, "NODE_CHANNEL_FD=3", "NEXT_DEPLOY_DRAIN_MS=800")
	cmd.Env = append(cmd.Env, o.env...)
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr, cmd.Stdout = os.Stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	a := &app{cmd: cmd, addr: addr, ipc: bufio.NewReader(ours), done: make(chan struct{})}
	go func() { a.err = cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-a.done
		ours.Close()
	})
	waitListening(t, addr)
	return a
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("app never listened on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get sends one GET on conn and returns the status and whether the
// server closes the connection (Connection: close).
func get(conn net.Conn, r *bufio.Reader, path string) (int, bool, error) {
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Close, nil
}

// The preload sends 'ready' once the server listens, and on SIGINT keeps
// answering with Connection: close, finishes in-flight requests, then
// exits 0: what a worker must do for a reload to fail no request.
func TestPreloadDrainsOnSIGINT(t *testing.T) {
	a := startApp(t, true)
	msg, err := a.ipc.ReadString('\n')
	if err != nil || strings.TrimSpace(msg) != `"ready"` {
		t.Fatalf("IPC message = %q, %v; want \"ready\" (pm2 wait_ready)", msg, err)
	}
	keep, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	kr := bufio.NewReader(keep)
	if code, closing, err := get(keep, kr, "/"); err != nil || code != 200 || closing {
		t.Fatalf("before SIGINT: %d closing=%v %v; want 200 kept alive", code, closing, err)
	}
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + a.addr + "/slow?ms=1500")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the slow request arrive
	if err := a.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	code, closing, err := get(keep, kr, "/")
	if err != nil || code != 200 || !closing {
		t.Errorf("kept-alive request while draining: %d closing=%v %v; want 200 with Connection: close", code, closing, err)
	}
	if err := <-slow; err != nil {
		t.Errorf("in-flight request during drain: %v", err)
	}
	select {
	case <-a.done:
		if a.err != nil {
			t.Errorf("exit after drain: %v, want status 0", a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the app did not exit after draining")
	}
}

// Regression guard for what the preload fixes: without it, the server
// (like Next's) exits at once on SIGINT and an in-flight request fails.
func TestWithoutPreloadSIGINTDropsInFlight(t *testing.T) {
	a := startApp(t, false)
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + a.addr + "/slow?ms=1500")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := a.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := <-slow; err == nil {
		t.Errorf("in-flight request without the preload = %v, want it to fail", err)
	}
}
