package compat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// host is where a cell deploys: a bed host over SSH (the default), or
// this machine (--hosts local, ND_COMPAT_HOSTS=local) with a pm2 daemon
// and an nginx of the test's own, for a machine whose one bed is busy.
type host interface {
	// cli runs next-deploy against the host and returns its stdout.
	cli(t *testing.T, args ...string) []byte
	// activateFlags say where the app listens and is checked.
	activateFlags() []string
	// get GETs path through the host's nginx.
	get(t *testing.T, path string) (int, string)
	// listens says where the app listens, and fails t when that is
	// more than the address --hostname gave.
	listens(t *testing.T) string
}

// bedHost is a host of the bed.
type bedHost struct {
	b *bed.Bed
	h *bed.Host
}

func (bh bedHost) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	return runCLI(t, nil, append(args, "--hosts", bh.h.Target(), "--path", "~/app",
		"--known-hosts-file", bh.b.KnownHostsFile, "--ssh-key-file", bh.b.ClientKeyFile)...)
}

func (bh bedHost) activateFlags() []string {
	return []string{"--hostname", "{host}", "--health-url", "http://{host}:3000/"}
}

func (bh bedHost) get(t *testing.T, path string) (int, string) {
	return get(t, bh.h.NginxAddr, path)
}

// listens checks the host user's processes (the app's workers, its
// nginx): ss -p shows the processes of the user who asks, and only
// theirs.
func (bh bedHost) listens(t *testing.T) string {
	out := bh.b.RunAs(t, bh.h, `ss -ltnpH | grep 'users:' || true`)
	return checkListens(t, out, bh.h.Addr)
}

// localHost is this machine: a deploy root, a pm2 daemon (PM2_HOME) and
// an nginx with the server block of `next-deploy config nginx`, all the
// test's own; the cleanup stops the daemon and nginx it started.
type localHost struct {
	root, pm2Home string
	appPort       int
	nginxAddr     string
}

// startLocal starts the local host for releases whose server.js is in
// appDir ("" for the release's root).
func startLocal(t *testing.T, appDir string) *localHost {
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o755))
	l := &localHost{root: filepath.Join(dir, "app"), pm2Home: filepath.Join(dir, "pm2"), appPort: freePort(t)}
	l.nginxAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	must(t, os.MkdirAll(l.root, 0o755))
	t.Cleanup(func() {
		cmd := exec.Command("pm2", "kill")
		cmd.Env = append(os.Environ(), "PM2_HOME="+l.pm2Home)
		_ = cmd.Run()
	})
	server := runCLI(t, nil, "config", "nginx", "--path", l.root, "--app-dir", appDir, "--listen", l.nginxAddr,
		"--upstream", "127.0.0.1:"+strconv.Itoa(l.appPort))
	ngx := filepath.Join(dir, "nginx")
	must(t, os.MkdirAll(ngx, 0o755))
	conf := "daemon off;\nuser root;\npid " + ngx + "/nginx.pid;\nerror_log " + ngx + "/error.log;\nevents {}\nhttp {\n" +
		"access_log off;\nclient_body_temp_path " + ngx + ";\nproxy_temp_path " + ngx + ";\n" +
		"fastcgi_temp_path " + ngx + ";\nuwsgi_temp_path " + ngx + ";\nscgi_temp_path " + ngx + ";\n" + string(server) + "}\n"
	writeFile(t, filepath.Join(ngx, "nginx.conf"), conf)
	cmd := exec.Command("nginx", "-p", ngx, "-c", filepath.Join(ngx, "nginx.conf"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", l.nginxAddr); err == nil {
			c.Close()
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx on %s did not start: %s", l.nginxAddr, log.String())
		}
	}
}

func (l *localHost) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	return runCLI(t, []string{"PM2_HOME=" + l.pm2Home}, append(args, "--hosts", "local", "--path", l.root)...)
}

func (l *localHost) activateFlags() []string {
	port := strconv.Itoa(l.appPort)
	return []string{"--hostname", "127.0.0.1", "--port", port, "--health-url", "http://127.0.0.1:" + port + "/"}
}

func (l *localHost) get(t *testing.T, path string) (int, string) {
	return get(t, l.nginxAddr, path)
}

// listens checks every socket on the app's port (a free port the test
// picked: only the app listens there).
func (l *localHost) listens(t *testing.T) string {
	out, err := exec.Command("ss", "-ltnH", fmt.Sprintf("sport = :%d", l.appPort)).Output()
	must(t, err)
	return checkListens(t, string(out), "127.0.0.1")
}

// checkListens reads ss -ltn lines: every local address must be addr.
func checkListens(t *testing.T, ss, addr string) string {
	var other []string
	for line := range strings.Lines(ss) {
		if f := strings.Fields(line); len(f) >= 4 && !strings.HasPrefix(f[3], addr+":") {
			other = append(other, f[3])
		}
	}
	if other != nil {
		t.Errorf("the app listens on %q, want %s only (HOSTNAME from --hostname)", other, addr)
		return strings.Join(other, " ")
	}
	return addr + " only"
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runCLI runs next-deploy with env added and returns its stdout.
func runCLI(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), "GITHUB_ACTIONS=", "SSH_AUTH_SOCK="), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("next-deploy %s: %v\n%s\n%s", strings.Join(args[:min(3, len(args))], " "), err, out, tail(stderr.String(), 6000))
	}
	return out
}

// get GETs path from the nginx at addr.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
