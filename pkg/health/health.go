// Package health owns the health gate of an activation: an HTTP GET of the
// app, made from the server's side through the host's connection (so no
// app port needs to be open to the runner), retried until a time limit,
// that passes only when the answer is 2xx/3xx and the page references
// /<release>/_next/: proof that the release just activated is the one
// serving, not an old worker. pm2 reload is not a health gate.
package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"

	"github.com/org/next-deploy/pkg/clock"
)

// DefaultPort is where Next listens when nothing sets PORT.
const DefaultPort = 3000

// AppURL is the health check's URL of an app that listens on hostname
// and port (HOSTNAME and PORT of its ecosystem; "" and 0 when unset, as
// Next then listens on every address, port 3000): its page, asked on the
// host itself.
func AppURL(hostname string, port int) string {
	switch strings.Trim(hostname, "[]") {
	case "", "0.0.0.0":
		hostname = "127.0.0.1"
	case "::":
		hostname = "::1"
	}
	if port == 0 {
		port = DefaultPort
	}
	return "http://" + net.JoinHostPort(strings.Trim(hostname, "[]"), strconv.Itoa(port)) + "/"
}

// HostPlaceholder in a URL stands for the host's address as given in
// --hosts.
const HostPlaceholder = "{host}"

// Dialer opens a TCP connection from the host's side (remote.Host.DialTCP).
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// Gate is one health check.
type Gate struct {
	// URL is what to GET, with {host} already replaced (see Expand).
	URL string
	// Release is the release that must serve.
	Release string
	// Timeout bounds the whole check, retries included.
	Timeout time.Duration
	// Wait is the pause between attempts (default 500ms).
	Wait time.Duration
}

// Result is what a passing check saw.
type Result struct {
	Status   int
	Attempts int
}

// Expand replaces {host} in a URL with addr and checks the result.
func Expand(raw, addr string) (string, error) {
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
		addr = "[" + addr + "]" // IPv6
	}
	s := strings.ReplaceAll(raw, HostPlaceholder, addr)
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("health URL %q: %w", raw, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("health URL %q: want http://host:port/path (the app itself, not TLS)", raw)
	}
	return s, nil
}

// Marker is what a page of release id references: its assets under
// assetPrefix /<id>.
func Marker(id string) string { return "/" + id + "/_next/" }

// maxBody bounds how much of a page is read.
const maxBody = 4 << 20

// Check GETs g.URL through dial until the answer is 2xx/3xx and
// references g.Release, or g.Timeout passes. The error says what the last
// attempt saw.
func Check(ctx context.Context, dial Dialer, g Gate) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, g.Timeout)
	defer cancel()
	wait := g.Wait
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	var last error
	attempts := 0
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.HTTPClient = &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr) },
		DisableKeepAlives: true,
	}}
	c.RetryMax = 1 << 20 // bounded by the context
	c.RetryWaitMin, c.RetryWaitMax = wait, wait
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		attempts++
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			last = err
			return true, nil
		}
		if last = judge(resp, g.Release); last != nil {
			return true, nil
		}
		return false, nil
	}
	c.ErrorHandler = func(resp *http.Response, err error, n int) (*http.Response, error) {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, g.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("health check %s: %w", g.URL, err)
	}
	resp, err := c.Do(req)
	if err == nil && last == nil {
		resp.Body.Close()
		return &Result{Status: resp.StatusCode, Attempts: attempts}, nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	if last == nil {
		last = err
	}
	return nil, &Error{URL: g.URL, Release: g.Release, Timeout: g.Timeout, Attempts: attempts, Last: last}
}

// judge reads the answer and says what is wrong with it, or nil. The body
// is put back for the caller.
func judge(resp *http.Response, id string) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("status %d, body cut: %w", resp.StatusCode, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if !bytes.Contains(body, []byte(Marker(id))) {
		return fmt.Errorf("status %d but the page does not reference %s (an old worker answers, or assetPrefix is not /<release>)%s", resp.StatusCode, Marker(id), seen(body))
	}
	return nil
}

// seen names the release the page references instead, if any.
func seen(body []byte) string {
	s := string(body)
	i := strings.Index(s, "/_next/")
	if i <= 0 {
		return ""
	}
	j := strings.LastIndex(s[:i], "/")
	if j < 0 || i-j > 65 {
		return ""
	}
	return "; it references " + s[j:i+len("/_next/")]
}

// Error is a failed health check.
type Error struct {
	URL      string
	Release  string
	Timeout  time.Duration
	Attempts int
	Last     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("health check GET %s failed for %s (%d attempts): release %s does not serve: %v",
		e.URL, clock.Format(e.Timeout), e.Attempts, e.Release, e.Last)
}

func (e *Error) Unwrap() error { return e.Last }

// IsHealth reports whether err is a failed health check.
func IsHealth(err error) bool {
	var he *Error
	return errors.As(err, &he)
}

// Get is one GET of url through dial, within timeout: its status code,
// or why there is none. The body is read and dropped.
func Get(ctx context.Context, dial Dialer, url string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr) },
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, nil
}
