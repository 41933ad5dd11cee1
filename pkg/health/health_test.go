package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// via dials the test server whatever address is asked, and records it:
// the host's side of the connection in production.
func via(srv *httptest.Server, asked *atomic.Value) Dialer {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		asked.Store(addr)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
}

func page(id string) string {
	return `<html><script src="/` + id + `/_next/static/chunks/main.js"></script></html>`
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(n int32, w http.ResponseWriter)
		ok      bool
		mention string
	}{
		{"serves the release", func(_ int32, w http.ResponseWriter) { fmt.Fprint(w, page("v2")) }, true, ""},
		{"old worker, then the release", func(n int32, w http.ResponseWriter) {
			if n < 3 {
				fmt.Fprint(w, page("v1"))
				return
			}
			fmt.Fprint(w, page("v2"))
		}, true, ""},
		{"502 while starting, then the release", func(n int32, w http.ResponseWriter) {
			if n < 2 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			fmt.Fprint(w, page("v2"))
		}, true, ""},
		{"always the old release", func(_ int32, w http.ResponseWriter) { fmt.Fprint(w, page("v1")) }, false, "references /v1/_next/"},
		{"server error", func(_ int32, w http.ResponseWriter) { w.WriteHeader(500); fmt.Fprint(w, page("v2")) }, false, "status 500"},
		{"not found", func(_ int32, w http.ResponseWriter) { w.WriteHeader(404) }, false, "status 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.handler(n.Add(1)-1, w)
			}))
			defer srv.Close()
			var asked atomic.Value
			res, err := Check(context.Background(), via(srv, &asked), Gate{
				URL: "http://127.0.0.1:3000/", Release: "v2", Timeout: time.Second, Wait: 10 * time.Millisecond,
			})
			if tc.ok {
				if err != nil || res.Status != 200 {
					t.Fatalf("Check = %+v, %v; want a pass", res, err)
				}
			} else {
				if err == nil || !IsHealth(err) || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), "release v2 does not serve") {
					t.Fatalf("Check error = %v; want a health error mentioning %q", err, tc.mention)
				}
			}
			if got := asked.Load(); got != "127.0.0.1:3000" {
				t.Errorf("dialled %v, want the URL's address from the host's side", got)
			}
		})
	}
}

func TestCheckConnectionRefusedUntilTimeout(t *testing.T) {
	refuse := func(ctx context.Context, addr string) (net.Conn, error) {
		return nil, errors.New("connect: connection refused")
	}
	_, err := Check(context.Background(), refuse, Gate{URL: "http://127.0.0.1:3000/", Release: "v2", Timeout: 200 * time.Millisecond, Wait: 20 * time.Millisecond})
	var he *Error
	if !errors.As(err, &he) || he.Attempts < 2 || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Check = %v; want a health error after several attempts naming the refusal", err)
	}
}

func TestCheckFollowsRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/en", http.StatusTemporaryRedirect)
			return
		}
		fmt.Fprint(w, page("v2"))
	}))
	defer srv.Close()
	var asked atomic.Value
	if _, err := Check(context.Background(), via(srv, &asked), Gate{URL: "http://127.0.0.1:3000/", Release: "v2", Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct{ raw, addr, want string }{
		{"http://{host}:3000/", "10.0.0.5", "http://10.0.0.5:3000/"},
		{"http://127.0.0.1:3000/health", "10.0.0.5", "http://127.0.0.1:3000/health"},
		{"http://{host}:3000/", "::1", "http://[::1]:3000/"},
		{"https://{host}/", "h", ""},
		{"127.0.0.1:3000", "h", ""},
	} {
		got, err := Expand(tc.raw, tc.addr)
		if (err != nil) != (tc.want == "") || got != tc.want && tc.want != "" {
			t.Errorf("Expand(%q, %q) = %q, %v; want %q", tc.raw, tc.addr, got, err, tc.want)
		}
	}
}

// The health target of an app is where its ecosystem has it listen, asked
// on the host itself: an app on every address is asked on loopback, one
// with no PORT on Next's 3000.
func TestAppURL(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		want string
	}{
		{"127.0.0.1", 3204, "http://127.0.0.1:3204/"},
		{"", 0, "http://127.0.0.1:3000/"},
		{"0.0.0.0", 3202, "http://127.0.0.1:3202/"},
		{"::", 3000, "http://[::1]:3000/"},
		{"[::1]", 8080, "http://[::1]:8080/"},
		{"10.0.0.5", 3000, "http://10.0.0.5:3000/"},
	} {
		if got := AppURL(tc.host, tc.port); got != tc.want {
			t.Errorf("AppURL(%q, %d) = %q, want %q", tc.host, tc.port, got, tc.want)
		}
		if _, err := Expand(AppURL(tc.host, tc.port), "x"); err != nil {
			t.Errorf("AppURL(%q, %d) is not a health URL: %v", tc.host, tc.port, err)
		}
	}
}
