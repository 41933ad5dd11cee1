package pm2test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose headers come late is a failure, counted as slow, even
// when its answer is right: the regression this guards against is a load
// test passing while a request hung for seconds during a reload.
func TestLoadCountsSlowRequestsAsFailed(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 3 {
			time.Sleep(300 * time.Millisecond) // slow, within the client timeout (2 x SlowAfter)
		}
		w.Write([]byte(`<script src="/s1/_next/static/chunks/main.js"></script>`))
	}))
	defer srv.Close()
	run := Load{BaseURL: srv.URL, Workers: 1, NoPost: true, SlowAfter: 200 * time.Millisecond}.Start(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for run.Snapshot().Requests < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := run.Stop()
	if st.Slow != 1 || st.Failures != 1 {
		t.Fatalf("stats %s: want exactly 1 slow request, counted as failed", st)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "GET /: answered after") {
		t.Errorf("errors %q: want the slow GET named", st.Errors)
	}
	if got, want := st.Releases["s1"], st.Requests-1; got != want {
		t.Errorf("releases %v: want the %d fast answers counted for s1", st.Releases, want)
	}
}

// A request the client gives up on (no headers within twice SlowAfter)
// is one failure, and slow.
func TestLoadCountsAHangOnce(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		w.Write([]byte(`/h1/_next/static/`))
	}))
	defer srv.Close()
	run := Load{BaseURL: srv.URL, Workers: 1, NoPost: true, SlowAfter: 100 * time.Millisecond}.Start(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for run.Snapshot().Requests < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := run.Stop()
	if st.Slow != 1 || st.Failures != 1 {
		t.Fatalf("stats %s (%q): want the hung request failed once, and slow", st, st.Errors)
	}
}
