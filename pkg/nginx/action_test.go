package nginx

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nextActionCheck is Next's check of a Server Action (action-handler.ts):
// the host of the Origin header must equal x-forwarded-host, which Next's
// server sets from Host when the proxy sent none; else "Aborting the
// action" and HTTP 500.
func nextActionCheck(w http.ResponseWriter, r *http.Request) {
	origin, _ := url.Parse(r.Header.Get("Origin"))
	kind, fwd := "x-forwarded-host", r.Header.Get("X-Forwarded-Host")
	if fwd == "" {
		kind, fwd = "host", r.Host
	}
	if origin == nil || origin.Host != fwd {
		http.Error(w, fmt.Sprintf("`%s` header with value `%s` does not match `origin` header with value `%s` from a forwarded Server Actions request. Aborting the action.", kind, fwd, origin.Host), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "action ran; host %s", r.Host)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNginx runs the rendered config under a real nginx (in the
// foreground, its own prefix, one process), until the test ends.
func startNginx(t *testing.T, c Config) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not installed (apt-get install nginx)")
		}
		t.Skip("nginx not installed")
	}
	runNginx(t, bin, t.TempDir(), c, false)
}

// runNginx runs nginx in the foreground on the rendered config c, with
// dir as its prefix, until the test ends; master starts worker processes
// as nginx does in production (they run as nginx's user), else nginx is
// one process. It returns once nginx listens on c.Listen.
func runNginx(t *testing.T, bin, dir string, c Config, master bool) {
	t.Helper()
	conf, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	main := "daemon off;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\n" +
		"access_log off;\nclient_body_temp_path " + dir + ";\nproxy_temp_path " + dir + ";\n" +
		"fastcgi_temp_path " + dir + ";\nuwsgi_temp_path " + dir + ";\nscgi_temp_path " + dir + ";\n" + string(conf) + "}\n"
	if !master {
		main = "master_process off;\n" + main
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", dir+"/error.log", "-c", file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", c.Listen); err == nil {
			conn.Close()
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("nginx does not listen on %s", c.Listen)
		}
	}
}

// Regression (issue 16 item 9): behind the generated nginx on a port
// other than 80 every Server Action failed with "x-forwarded-host header
// with value 127.0.0.1 does not match origin header with value
// 127.0.0.1:8090 ... Aborting the action": proxy_set_header Host $host
// dropped the port. A POST through the real nginx, with the Origin a
// browser sends, reaches an app that checks it as Next does.
func TestServerActionThroughNginxOnAnotherPort(t *testing.T) {
	app := &http.Server{Handler: http.HandlerFunc(nextActionCheck), ReadHeaderTimeout: 5 * time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Serve(l) }()
	defer app.Close()
	c := Defaults
	c.Root, c.Listen, c.Upstream = t.TempDir(), freeAddr(t), l.Addr().String()
	startNginx(t, c)

	req, _ := http.NewRequest(http.MethodPost, "http://"+c.Listen+"/", strings.NewReader(`["x"]`))
	req.Header.Set("Origin", "http://"+c.Listen)
	req.Header.Set("Next-Action", "7f3a")
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "host "+c.Listen) {
		t.Errorf("Server Action through nginx on %s: %d %s; want 200 and the app seeing Host %s", c.Listen, resp.StatusCode, body, c.Listen)
	}
}
