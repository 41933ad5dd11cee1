package pm2test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/org/next-deploy/pkg/release"
)

// Load is constant traffic against an app (directly, through a host's
// nginx or through the balancer): page GETs, POSTs to /api/echo, and GETs
// of static chunk URLs, each checked. A request fails when it gets no
// answer, an answer that is not 200 with the expected content, or its
// answer's headers come later than SlowAfter: a request that hangs during
// a reload is a failure for its user even when it ends well.
type Load struct {
	// BaseURL is where to send requests: "http://127.0.0.1:8080".
	BaseURL string
	// Workers is the number of concurrent clients, each with its own
	// kept-alive connections (default 4).
	Workers int
	// Chunks are URL paths that must answer 200 (static files).
	Chunks []string
	// NoPost leaves the POSTs out.
	NoPost bool
	// Pause between two requests of one worker (default none).
	Pause time.Duration
	// SlowAfter is how long a request may wait for its answer's headers
	// before it counts as failed and slow (default DefaultSlowAfter).
	SlowAfter time.Duration
}

// DefaultSlowAfter is Load.SlowAfter's default. The client gives up at
// twice that: a request hanging for its headers is seen either way.
const DefaultSlowAfter = 5 * time.Second

// Stats is what a load run saw.
type Stats struct {
	Requests int
	// Failures counts every failed request once, the slow ones included.
	Failures int
	// Slow counts the requests that waited longer than SlowAfter for
	// their answer's headers (or for the error that ended them).
	Slow int
	// Releases counts the answers per release that served them.
	Releases map[string]int
	// Errors are the first failures, for messages.
	Errors []string
}

func (s Stats) String() string {
	var rs []string
	for r, n := range s.Releases {
		rs = append(rs, fmt.Sprintf("%s:%d", r, n))
	}
	sort.Strings(rs)
	return fmt.Sprintf("%d requests, %d failed (%d slow), releases %s", s.Requests, s.Failures, s.Slow, strings.Join(rs, " "))
}

// Run is a running load.
type Run struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	stats  Stats
}

// Start starts the load; Stop ends it.
func (l Load) Start(ctx context.Context) *Run {
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{cancel: cancel, stats: Stats{Releases: map[string]int{}}}
	n := l.Workers
	if n <= 0 {
		n = 4
	}
	for i := range n {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			l.worker(ctx, r, i)
		}()
	}
	return r
}

// Stop ends the load and returns what it saw.
func (r *Run) Stop() Stats {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Snapshot returns the stats so far.
func (r *Run) Snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Releases = map[string]int{}
	for k, v := range r.stats.Releases {
		s.Releases[k] = v
	}
	return s
}

func (r *Run) record(release string, err error, slow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	if slow {
		r.stats.Slow++
	}
	if err != nil {
		r.stats.Failures++
		if len(r.stats.Errors) < 10 {
			r.stats.Errors = append(r.stats.Errors, err.Error())
		}
		return
	}
	if release != "" {
		r.stats.Releases[release]++
	}
}

// pageRe finds the release a page belongs to: its assets are under
// /<release>/_next/static/ (assetPrefix).
var pageRe = regexp.MustCompile(`/(` + release.IDPattern + `)/_next/static/`)

func (l Load) worker(ctx context.Context, r *Run, i int) {
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	slowAfter := l.SlowAfter
	if slowAfter <= 0 {
		slowAfter = DefaultSlowAfter
	}
	c := &http.Client{Transport: &timedTransport{next: tr, slowAfter: slowAfter}, Timeout: 2 * slowAfter}
	for n := i; ctx.Err() == nil; n++ {
		kind := n % 3
		if kind == 1 && l.NoPost {
			kind = 0
		}
		if kind == 2 && len(l.Chunks) == 0 {
			kind = 0
		}
		var rel string
		var err error
		slow := &slowFlag{}
		rctx := context.WithValue(ctx, slowKey{}, slow)
		switch kind {
		case 0:
			rel, err = l.page(rctx, c)
		case 1:
			rel, err = l.post(rctx, c, n)
		case 2:
			err = l.chunk(rctx, c, l.Chunks[n%len(l.Chunks)])
		}
		if ctx.Err() != nil {
			return // a request cut by Stop is not a failure
		}
		if slow.d > 0 && err == nil {
			err = fmt.Errorf("%s: answered after %s, more than %s", slow.what, slow.d.Round(time.Millisecond), slowAfter)
		}
		r.record(rel, err, slow.d > 0)
		if l.Pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(l.Pause):
			}
		}
	}
}

func (l Load) do(ctx context.Context, c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: status %d: %.120s", req.Method, req.URL.Path, resp.StatusCode, strings.Join(strings.Fields(string(body)), " "))
	}
	return body, nil
}

func (l Load) page(ctx context.Context, c *http.Client) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, l.BaseURL+"/", nil)
	body, err := l.do(ctx, c, req)
	if err != nil {
		return "", err
	}
	m := pageRe.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("GET /: not the app's page: %.200s", body)
	}
	return string(m[1]), nil
}

func (l Load) post(ctx context.Context, c *http.Client, n int) (string, error) {
	type msg struct {
		N   int    `json:"n"`
		Pad string `json:"pad"`
	}
	sent := msg{N: n, Pad: strings.Repeat("x", 512+n%512)}
	payload, _ := json.Marshal(sent)
	req, _ := http.NewRequest(http.MethodPost, l.BaseURL+"/api/echo", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	body, err := l.do(ctx, c, req)
	if err != nil {
		return "", err
	}
	var got struct {
		Release string `json:"release"`
		Echo    msg    `json:"echo"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Echo != sent {
		return "", fmt.Errorf("POST /api/echo: answer %.200s, want what was sent echoed", body)
	}
	return got.Release, nil
}

func (l Load) chunk(ctx context.Context, c *http.Client, path string) error {
	req, _ := http.NewRequest(http.MethodGet, l.BaseURL+path, nil)
	_, err := l.do(ctx, c, req)
	return err
}

// slowKey carries a request's *slowFlag in its context.
type slowKey struct{}

// slowFlag is set by timedTransport when a request was slow.
type slowFlag struct {
	what string
	d    time.Duration
}

// timedTransport times each round trip to the answer's headers (or to
// its error): a request cut by the client's timeout is slow too.
type timedTransport struct {
	next      http.RoundTripper
	slowAfter time.Duration
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if d := time.Since(start); d > t.slowAfter {
		if f, ok := req.Context().Value(slowKey{}).(*slowFlag); ok {
			f.what, f.d = req.Method+" "+req.URL.Path, d
		}
	}
	return resp, err
}
