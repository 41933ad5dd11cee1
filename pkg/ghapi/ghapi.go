// Package ghapi owns next-deploy's use of the GitHub REST API: the HTTP
// client that talks to it (go-github over a retrying, context-respecting
// *http.Client, github.com or GHES), the workflow run a step belongs to,
// and listing that run's jobs as plain data. What the jobs mean (whether
// every matrix job has delivered) is barrier-wait's, in pkg/barrier.
package ghapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/hashicorp/go-retryablehttp"
)

// DefaultAPIURL is the API of github.com; GHES sets GITHUB_API_URL to
// https://<host>/api/v3.
const DefaultAPIURL = "https://api.github.com"

// RetryOptions tune the retrying HTTP client. Zero values take defaults.
type RetryOptions struct {
	// Max is the number of retries after the first attempt (default 4).
	Max int
	// WaitMin and WaitMax bound the exponential backoff between attempts
	// (default 1s and 15s); a Retry-After header of a 429 or 503 wins.
	WaitMin, WaitMax time.Duration
	// AttemptTimeout limits one attempt (default 30s).
	AttemptTimeout time.Duration
}

// NewHTTPClient returns an *http.Client that retries connection errors,
// 429 and 5xx responses with backoff, a limited number of times, and stops
// waiting when the request's context is done. After the last retry the
// last response itself is returned (not a generic "giving up"), so the
// caller sees GitHub's status and message.
func NewHTTPClient(o RetryOptions) *http.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil // its debug lines would mix with the step's output
	rc.RetryMax = 4
	if o.Max > 0 {
		rc.RetryMax = o.Max
	}
	rc.RetryWaitMin, rc.RetryWaitMax = time.Second, 15*time.Second
	if o.WaitMin > 0 {
		rc.RetryWaitMin = o.WaitMin
	}
	if o.WaitMax > 0 {
		rc.RetryWaitMax = o.WaitMax
	}
	rc.HTTPClient.Timeout = 30 * time.Second
	if o.AttemptTimeout > 0 {
		rc.HTTPClient.Timeout = o.AttemptTimeout
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return rc.StandardClient()
}

// Client is a GitHub API client for one API host.
type Client struct {
	gh *github.Client
}

// New returns a client of the API at apiURL ("" for github.com; GHES:
// https://<host>/api/v3, as in GITHUB_API_URL) authenticating with token,
// over hc (NewHTTPClient, or a test's). The token is sent only to apiURL.
func New(hc *http.Client, apiURL, token string) (*Client, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("github api url %q: want https://api.github.com or https://<ghes-host>/api/v3", apiURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	gh := github.NewClient(hc)
	if token != "" {
		gh = gh.WithAuthToken(token)
	}
	gh.BaseURL = u
	gh.UserAgent = "next-deploy"
	return &Client{gh: gh}, nil
}

// APIError is a response GitHub refused, with what to do about it.
type APIError struct {
	StatusCode int
	Message    string
	// Hint says what to do, when we know.
	Hint string
	// Err is go-github's error.
	Err error
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("github api: %d %s", e.StatusCode, e.Message)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

func (e *APIError) Unwrap() error { return e.Err }

// Permanent reports whether asking again cannot help: a 4xx other than a
// rate limit (401 bad token, 403 no permission, 404 no such run).
func (e *APIError) Permanent() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != http.StatusTooManyRequests
}

// IsPermanent reports whether err is an API error that asking again cannot
// fix. Rate limits, 5xx and network errors are not.
func IsPermanent(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Permanent()
}

// permissionHint is how a token gets what barrier-wait needs.
const permissionHint = "the workflow token needs `actions: read` (permissions: {actions: read} in the workflow or job)"

// explain turns go-github's errors into an *APIError with a hint; rate
// limits and transport errors pass through (they are transient).
func explain(err error, run Run) error {
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &abuse) {
		return err
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	ae := &APIError{StatusCode: er.Response.StatusCode, Message: er.Message, Err: err}
	if ae.Message == "" {
		ae.Message = http.StatusText(ae.StatusCode)
	}
	switch ae.StatusCode {
	case http.StatusUnauthorized:
		ae.Hint = "GITHUB_TOKEN (or --github-token) was refused: pass the run's token (secrets.GITHUB_TOKEN or github.token), not an expired or foreign one; " + permissionHint
	case http.StatusForbidden:
		ae.Hint = "GITHUB_TOKEN may not read this run's jobs: " + permissionHint
	case http.StatusNotFound:
		ae.Hint = fmt.Sprintf("no run %d in %s/%s, or the token cannot see it: check GITHUB_REPOSITORY, GITHUB_RUN_ID and GITHUB_API_URL; %s", run.ID, run.Owner, run.Repo, permissionHint)
	}
	return ae
}
