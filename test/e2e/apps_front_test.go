package e2e

import (
	"encoding/json"
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

	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/test/bed"
)

// Issue 16 ("Real apps"), items 4 and 9, on the bed (one host: sshd, pm2,
// its nginx with the static location of config nginx) with the tiny
// Next-like server:
//
//  4. "Old clients break without nginx, silently": after a switch,
//     activate fetches a chunk of the release left through the host's
//     front; from the app's own port it is 404: one warning naming the
//     host and the fix. Through nginx it is served: no warning. status
//     shows the same.
//  9. "Server Actions refused behind the generated nginx on a
//     non-default port": the whole server block of config nginx, on
//     :8090, forwards the browser's Host with its port; the app checks
//     the Origin of a Server Action as Next does.
func TestAppsFrontServesOldStaticAndServerActions(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 1, PM2: true, Nginx: true, StaticLocation: func(h *bed.Host) string {
		loc, err := nginx.StaticLocation(nginx.Config{Root: h.DeployPath, Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
		if err != nil {
			t.Fatalf("config nginx for %s: %v", h.Name(), err)
		}
		return loc
	}})
	h := b.Hosts[0]
	for _, id := range []string{"v1", "v2"} {
		actTiny{}.ship(t, b, id, false)
	}
	cli := func(args ...string) (int, string) {
		status, out, errOut := actCLI(t, b, args...)
		return status, out + errOut
	}
	if status, out := cli("activate", "--release", "v1", "--hostname", "{host}", "--health-url", "http://{host}:3000/"); status != 0 {
		t.Fatalf("activate v1: exit %d\n%s", status, out)
	}
	appFront := "http://{host}:3000"
	const warning = "static files are not served on"

	t.Run("activate: the app alone in front: one warning with the fix", func(t *testing.T) {
		status, out := cli("activate", "--release", "v2", "--front", appFront)
		if status != 0 {
			t.Fatalf("activate v2: exit %d\n%s", status, out)
		}
		if n := strings.Count(out, warning); n != 1 || !strings.Contains(out, h.Target()) || !strings.Contains(out, "next-deploy config nginx") || !strings.Contains(out, "/v1/_next/static/") {
			t.Errorf("want one warning naming %s, the v1 chunk and next-deploy config nginx; got %d:\n%s", h.Target(), n, out)
		}
	})

	t.Run("activate: nginx in front: no warning", func(t *testing.T) {
		status, out := cli("activate", "--release", "v1", "--front", "http://"+h.NginxAddr)
		if status != 0 || strings.Contains(out, warning) {
			t.Errorf("activate v1 with nginx in front: exit %d, want 0 and no warning\n%s", status, out)
		}
	})

	t.Run("status shows it", func(t *testing.T) {
		status, out := cli("status", "--front", appFront)
		if status != 0 || !strings.Contains(out, "NOT served") || !strings.Contains(out, warning) {
			t.Errorf("status with the app alone in front: exit %d, want NOT served and a warning\n%s", status, out)
		}
		status, out = cli("status", "--front", "http://"+h.NginxAddr)
		if status != 0 || !strings.Contains(out, "served") || strings.Contains(out, "NOT served") {
			t.Errorf("status with nginx in front: exit %d, want served\n%s", status, out)
		}
	})

	t.Run("a Server Action through config nginx on :8090", func(t *testing.T) {
		conf, err := exec.Command(actBinary(t), "config", "nginx", "--path", h.DeployPath,
			"--listen", h.Addr+":8090", "--upstream", h.AppAddr).Output()
		if err != nil {
			t.Fatalf("config nginx: %v", err)
		}
		front := h.Addr + ":8090"
		runNginx(t, string(conf), front)
		req, _ := http.NewRequest(http.MethodPost, "http://"+front+"/", strings.NewReader(`["x"]`))
		req.Header.Set("Origin", "http://"+front)
		req.Header.Set("Next-Action", "7f3a")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var got struct {
			Host string `json:"host"`
		}
		_ = json.Unmarshal(body, &got)
		if resp.StatusCode != 200 || got.Host != front {
			t.Errorf("Server Action through nginx on %s: %d %s; want 200, the app seeing Host %s", front, resp.StatusCode, body, front)
		}
		if code, _ := getURL(t, "http://"+front+pm2test.Release{ID: "v2"}.ChunkPath()); code != 200 {
			t.Errorf("the v2 chunk through config nginx on %s: %d, want 200", front, code)
		}
	})
}

// runNginx runs the server block conf (config nginx) in an nginx of its
// own, as root like the bed's, until the test ends.
func runNginx(t *testing.T, conf, addr string) {
	t.Helper()
	dir := t.TempDir()
	mime := ""
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;\n"
	}
	main := "daemon off;\nmaster_process off;\nuser root;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\n" + mime +
		"access_log off;\nclient_body_temp_path " + dir + ";\nproxy_temp_path " + dir + ";\n" +
		"fastcgi_temp_path " + dir + ";\nuwsgi_temp_path " + dir + ";\nscgi_temp_path " + dir + ";\n" + conf + "}\n"
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-p", dir, "-e", dir+"/error.log", "-c", file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Since(start) > 10*time.Second {
			log, _ := os.ReadFile(dir + "/error.log")
			t.Fatalf("nginx does not listen on %s:\n%s", addr, log)
		}
	}
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
