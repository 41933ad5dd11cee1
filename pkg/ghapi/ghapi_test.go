package ghapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken = "ghs_test_token"
	jobsPath  = "/repos/acme/shop/actions/runs/42/jobs"
)

var testRun = Run{Owner: "acme", Repo: "shop", ID: 42, Attempt: 1}

// fakeAPI is a fake GitHub REST API: it checks the token and the request,
// and answers with the handler of the test. It records every request.
type fakeAPI struct {
	t       *testing.T
	mu      sync.Mutex
	reqs    []string
	handler func(w http.ResponseWriter, r *http.Request, n int)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.RequestURI())
	n := len(f.reqs)
	f.mu.Unlock()
	if got, want := r.Header.Get("Authorization"), "Bearer "+testToken; got != want {
		f.t.Errorf("Authorization = %q, want %q", got, want)
	}
	if r.Method != http.MethodGet {
		f.t.Errorf("method %s, want GET", r.Method)
	}
	f.handler(w, r, n)
}

func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// newFake starts a fake API at prefix ("" for github.com, "/api/v3" for
// GHES) and a client of it that retries at once (no real backoff).
func newFake(t *testing.T, prefix string, h func(w http.ResponseWriter, r *http.Request, n int)) (*Client, *fakeAPI) {
	t.Helper()
	return newFakeRetrying(t, prefix, RetryOptions{Max: 2, WaitMin: time.Millisecond, WaitMax: time.Millisecond}, h)
}

func newFakeRetrying(t *testing.T, prefix string, ro RetryOptions, h func(w http.ResponseWriter, r *http.Request, n int)) (*Client, *fakeAPI) {
	t.Helper()
	f := &fakeAPI{t: t, handler: h}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(NewHTTPClient(ro), srv.URL+prefix, testToken)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

type jobJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	Conclusion *string    `json:"conclusion"`
	RunAttempt int64      `json:"run_attempt"`
	HTMLURL    string     `json:"html_url"`
	Steps      []stepJSON `json:"steps"`
}

type stepJSON struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"`
	Conclusion *string `json:"conclusion"`
	Number     int     `json:"number"`
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// job builds a job as the API sends it; steps are "name=status/conclusion".
func job(id int64, name, status, conclusion string, steps ...string) jobJSON {
	j := jobJSON{ID: id, Name: name, Status: status, Conclusion: ptr(conclusion), RunAttempt: 1,
		HTMLURL: fmt.Sprintf("https://github.com/acme/shop/actions/runs/42/job/%d", id)}
	for i, s := range steps {
		n, sc, _ := strings.Cut(s, "=")
		st, c, _ := strings.Cut(sc, "/")
		j.Steps = append(j.Steps, stepJSON{Name: n, Status: st, Conclusion: ptr(c), Number: i + 1})
	}
	return j
}

func writeJobs(w http.ResponseWriter, total int, jobs []jobJSON) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"total_count": total, "jobs": jobs})
}

func writeError(w http.ResponseWriter, status int, msg string, hdr map[string]string) {
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func TestJobsReadsEveryPage(t *testing.T) {
	const total = 250
	c, f := newFake(t, "", func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.Path != jobsPath {
			t.Errorf("path %s, want %s", r.URL.Path, jobsPath)
		}
		q := r.URL.Query()
		page, _ := strconv.Atoi(q.Get("page"))
		page = max(page, 1)
		if page*100 < total {
			next := fmt.Sprintf("<http://%s%s?filter=all&page=%d&per_page=100>; rel=\"next\"", r.Host, jobsPath, page+1)
			w.Header().Set("Link", next)
		}
		var jobs []jobJSON
		for i := (page-1)*100 + 1; i <= min(page*100, total); i++ {
			jobs = append(jobs, job(int64(i), fmt.Sprintf("deploy (%d)", i), "completed", "success"))
		}
		writeJobs(w, total, jobs)
	})
	jobs, err := c.Jobs(context.Background(), testRun)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(jobs), total; got != want {
		t.Errorf("got %d jobs, want %d", got, want)
	}
	if got, want := jobs[total-1].Name, "deploy (250)"; got != want {
		t.Errorf("last job %q, want %q", got, want)
	}
	want := []string{
		jobsPath + "?filter=all&per_page=100",
		jobsPath + "?filter=all&page=2&per_page=100",
		jobsPath + "?filter=all&page=3&per_page=100",
	}
	if got := f.requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
}

func TestJobsGHESBaseURL(t *testing.T) {
	c, f := newFake(t, "/api/v3", func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJobs(w, 1, []jobJSON{job(1, "deploy (a)", "queued", "")})
	})
	if _, err := c.Jobs(context.Background(), testRun); err != nil {
		t.Fatal(err)
	}
	if got := f.requests(); len(got) != 1 || !strings.HasPrefix(got[0], jobsPath+"?") {
		t.Errorf("requests %q, want one to %s under /api/v3", got, jobsPath)
	}
}

func TestJobsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fail answers request n (from 1) with an error, or returns false
		// to let it succeed.
		fail          func(w http.ResponseWriter, n int) bool
		wantErr       bool
		wantPermanent bool
		wantRequests  int
		wantInMsg     []string
	}{
		{
			name: "5xx is retried",
			fail: func(w http.ResponseWriter, n int) bool {
				if n <= 2 {
					writeError(w, http.StatusBadGateway, "Server Error", nil)
					return true
				}
				return false
			},
			wantRequests: 3,
		},
		{
			name: "5xx until retries run out is transient, with GitHub's status",
			fail: func(w http.ResponseWriter, n int) bool {
				writeError(w, http.StatusServiceUnavailable, "Unavailable", nil)
				return true
			},
			wantErr:      true,
			wantRequests: 3, // Max 2 retries
			wantInMsg:    []string{"list jobs of run 42 of acme/shop", "503"},
		},
		{
			name: "401 is permanent, not retried, and says what the token needs",
			fail: func(w http.ResponseWriter, n int) bool {
				writeError(w, http.StatusUnauthorized, "Bad credentials", nil)
				return true
			},
			wantErr:       true,
			wantPermanent: true,
			wantRequests:  1,
			wantInMsg:     []string{"401 Bad credentials", "GITHUB_TOKEN", "actions: read"},
		},
		{
			name: "403 without rate limit is permanent and names the permission",
			fail: func(w http.ResponseWriter, n int) bool {
				writeError(w, http.StatusForbidden, "Resource not accessible by integration", nil)
				return true
			},
			wantErr:       true,
			wantPermanent: true,
			wantRequests:  1,
			wantInMsg:     []string{"403 Resource not accessible by integration", "actions: read"},
		},
		{
			name: "404 names the run variables",
			fail: func(w http.ResponseWriter, n int) bool {
				writeError(w, http.StatusNotFound, "Not Found", nil)
				return true
			},
			wantErr:       true,
			wantPermanent: true,
			wantRequests:  1,
			wantInMsg:     []string{"404 Not Found", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"},
		},
		{
			name: "a rate limit is transient",
			fail: func(w http.ResponseWriter, n int) bool {
				writeError(w, http.StatusForbidden, "API rate limit exceeded", map[string]string{
					"X-RateLimit-Remaining": "0",
					"X-RateLimit-Reset":     strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
				})
				return true
			},
			wantErr:      true,
			wantRequests: 1,
			wantInMsg:    []string{"rate limit"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := newFake(t, "", func(w http.ResponseWriter, r *http.Request, n int) {
				if tc.fail(w, n) {
					return
				}
				writeJobs(w, 1, []jobJSON{job(1, "deploy (a)", "completed", "success")})
			})
			_, err := c.Jobs(context.Background(), testRun)
			if got, want := err != nil, tc.wantErr; got != want {
				t.Fatalf("error = %v, want error: %v", err, want)
			}
			if got, want := IsPermanent(err), tc.wantPermanent; got != want {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
			}
			if got, want := len(f.requests()), tc.wantRequests; got != want {
				t.Errorf("%d requests, want %d", got, want)
			}
			for _, m := range tc.wantInMsg {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not mention %q", err, m)
				}
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestJobsRespectsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ro := RetryOptions{Max: 10, WaitMin: time.Hour, WaitMax: time.Hour}
	c, _ := newFakeRetrying(t, "", ro, func(w http.ResponseWriter, r *http.Request, n int) {
		cancel()
		writeError(w, http.StatusBadGateway, "Server Error", nil)
	})
	_, err := c.Jobs(ctx, testRun)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled (no waiting out an hour of backoff)", err)
	}
}

func TestLatest(t *testing.T) {
	j := func(name string, attempt int64, concl string) Job {
		return Job{Name: name, Attempt: attempt, Status: "completed", Conclusion: concl}
	}
	// Attempt 1: a delivered, b failed. Attempt 2 re-ran b only. An
	// attempt 3 (started later) is not this step's business.
	all := []Job{j("deploy (a)", 1, "success"), j("deploy (b)", 1, "failure"), j("deploy (b)", 2, "success"), j("deploy (b)", 3, "failure")}
	for _, tc := range []struct {
		attempt int64
		want    []Job
	}{
		{1, []Job{all[0], all[1]}},
		{2, []Job{all[0], all[2]}},
		{0, []Job{all[0], all[3]}},
	} {
		if got := latest(all, tc.attempt); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("latest(attempt %d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
}

func TestRunFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env       map[string]string
		want      Run
		wantInErr []string
	}{
		{env: map[string]string{"GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}, want: Run{Owner: "acme", Repo: "shop", ID: 42, Attempt: 2}},
		{env: map[string]string{"GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42"}, want: Run{Owner: "acme", Repo: "shop", ID: 42}},
		{env: map[string]string{}, wantInErr: []string{"GITHUB_REPOSITORY", "GITHUB_RUN_ID"}},
		{env: map[string]string{"GITHUB_REPOSITORY": "acme", "GITHUB_RUN_ID": "x", "GITHUB_RUN_ATTEMPT": "0"}, wantInErr: []string{`GITHUB_REPOSITORY "acme"`, `GITHUB_RUN_ID "x"`, `GITHUB_RUN_ATTEMPT "0"`}},
	} {
		got, err := RunFromEnv(func(k string) string { return tc.env[k] })
		if len(tc.wantInErr) == 0 {
			if err != nil || got != tc.want {
				t.Errorf("RunFromEnv(%v) = %+v, %v; want %+v", tc.env, got, err, tc.want)
			}
			continue
		}
		for _, m := range tc.wantInErr {
			if err == nil || !strings.Contains(err.Error(), m) {
				t.Errorf("RunFromEnv(%v) error %v does not mention %s", tc.env, err, m)
			}
		}
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"api.github.com", "ftp://x", "https://"} {
		if _, err := New(http.DefaultClient, u, "t"); err == nil {
			t.Errorf("New(%q) succeeded, want an error", u)
		}
	}
}
