package nginx

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/pm2"
)

// The proxy lines of the fallback location are those of location /: a
// request that falls back from a kept app to current must reach current
// as any other request does (guards an edit of one and not the other).
func TestSkewFallbackProxiesLikeLocationSlash(t *testing.T) {
	conf, err := Render(cases()["default.conf"])
	if err != nil {
		t.Fatal(err)
	}
	block := func(start string) []string {
		s := string(conf)
		i := strings.Index(s, start)
		if i < 0 {
			t.Fatalf("no %q in:\n%s", start, s)
		}
		s = s[i:]
		s = s[:strings.Index(s, "\n    }\n")]
		var lines []string
		for l := range strings.Lines(s) {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "proxy_") && !strings.HasPrefix(l, "proxy_pass ") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	got, want := block("location @nd_current {"), block("location / {")
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) < 5 {
		t.Errorf("proxy lines of @nd_current:\n%s\nwant those of location /:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// nginx itself routes by deployment id: to a kept app while its directory
// exists, to current otherwise, never outside the skew directory, and a
// dead kept app falls back to current. Real nginx, real unix sockets.
func TestSkewRoutingByNginx(t *testing.T) {
	bin := needNginx(t)
	if os.Geteuid() != 0 {
		t.Skip("nginx's workers run as another user only under root; the socket's mode is what is tested")
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // nginx's workers (nobody) traverse them
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "app")
	current := serve(t, "tcp", "127.0.0.1:0", "current")
	kept := filepath.Join(root, pm2.SkewSocket("r1"))
	if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
		t.Fatal(err)
	}
	serve(t, "unix", kept, "r1")
	// r2's directory holds a socket nobody answers on (its app died).
	stale := filepath.Join(root, pm2.SkewSocket("r2"))
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	c := Config{Root: root, Listen: freePort(t), ServerName: "_", Upstream: current, Keepalive: 4}
	runNginx(t, bin, dir, c, true)
	addr := c.Listen

	for _, c := range []struct {
		name, method, query, header, cookie, want string
	}{
		{"no id", "GET", "", "", "", "current"},
		{"header names a kept release", "GET", "", "r1", "", "r1"},
		{"a Server Action call", "POST", "", "r1", "", "r1"},
		{"query", "GET", "dpl=r1", "", "", "r1"},
		{"cookie", "GET", "", "", "r1", "r1"},
		{"the header wins over the cookie", "GET", "", "r3", "r1", "current"},
		{"an invalid header is no id", "GET", "", "r1/..", "r1", "r1"},
		{"no kept app", "GET", "", "r3", "", "current"},
		{"a path in the header", "GET", "", "../../../etc", "", "current"},
		{"dead kept app: current answers", "POST", "", "r2", "", "current"},
		{"the id of the directory's parent", "GET", "", ".", "", "current"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := "http://" + addr + "/x"
			if c.query != "" {
				u += "?" + c.query
			}
			req, _ := http.NewRequest(c.method, u, strings.NewReader("body"))
			if c.header != "" {
				req.Header.Set("X-Deployment-Id", c.header)
			}
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "__nd_dpl", Value: c.cookie})
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := string(b); resp.StatusCode != 200 || got != c.want {
				t.Errorf("%s %s (X-Deployment-Id %q, cookie %q): %d %q, want %q", c.method, u, c.header, c.cookie, resp.StatusCode, got, c.want)
			}
		})
	}
}

func needNginx(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not installed (apt-get install nginx)")
		}
		t.Skip("nginx not installed")
	}
	return bin
}

// serve answers every request with name, on a TCP address or a unix
// socket open to every user (as the drain preload makes it).
func serve(t *testing.T, network, addr, name string) string {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	if network == "unix" {
		if err := os.Chmod(addr, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, name)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
