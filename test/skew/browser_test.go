package skew

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/org/next-deploy/test/bed"
)

// origin is the site's name in the browser: every request goes through
// the balancer as an HTTP proxy, so the page's origin (http://skew.test)
// and the Host nginx passes to the app agree, as behind a real balancer
// on port 80 (Next refuses a Server Action whose Origin and Host differ).
const origin = "http://skew.test"

// chromium finds Debian's chromium, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	bed.SkipOrFail(t, "no chromium (apt-get install chromium)")
	return ""
}

// browser starts headless Chromium for the test, through the balancer.
// The flags keep it off the network (closed here): no sandbox as root, no
// QUIC, no background requests, no component updates, a fresh profile.
func browser(t *testing.T, b *bed.Bed) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ProxyServer("http://" + b.BalancerAddr),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return actx
}

// tab is one browser tab with everything it logged: console errors,
// exceptions, failed and refused requests, document loads.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu sync.Mutex
	// events are the log lines since the last mark.
	errors    []string
	requests  []string
	documents int
}

// newTab opens a tab: in a new browser when parent is the allocator's
// context, in parent's browser when parent is a tab's.
func newTab(t *testing.T, parent context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and the tab
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, tb.event); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) event(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range e.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			tb.errors = append(tb.errors, "console.error: "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.errors = append(tb.errors, "exception: "+msg)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			tb.errors = append(tb.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
		}
	case *network.EventResponseReceived:
		r := e.Response
		tb.requests = append(tb.requests, fmt.Sprintf("%d %s %s", r.Status, e.Type, r.URL))
		if r.Status >= 400 {
			tb.errors = append(tb.errors, fmt.Sprintf("HTTP %d %s %s", r.Status, e.Type, r.URL))
		}
		if e.Type == network.ResourceTypeDocument {
			tb.documents++
		}
	case *network.EventLoadingFailed:
		if !e.Canceled {
			tb.errors = append(tb.errors, fmt.Sprintf("request failed: %s %s", e.Type, e.ErrorText))
		}
	case *page.EventFrameNavigated:
	}
}

// mark forgets what the tab logged so far.
func (tb *tab) mark() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errors, tb.requests, tb.documents = nil, nil, 0
}

// seen is what the tab logged since the last mark.
func (tb *tab) seen() (errors, requests []string, documents int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...), append([]string(nil), tb.requests...), tb.documents
}

// do runs actions, at most d.
func (tb *tab) do(d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		errs, reqs, _ := tb.seen()
		tb.t.Fatalf("%s: %v\nerrors: %s\nrequests:\n%s", what, err, strings.Join(errs, "\n"), strings.Join(reqs, "\n"))
	}
}

// text is the text of the element sel, waiting for it up to d ("" when
// it does not come).
func (tb *tab) text(d time.Duration, sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, d)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// waitText waits up to d for the element sel to have a text that
// satisfies ok, and returns the last text read.
func (tb *tab) waitText(d time.Duration, sel string, ok func(string) bool) string {
	tb.t.Helper()
	end := time.Now().Add(d)
	last := ""
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
		cancel()
		if err == nil {
			last = strings.TrimSpace(s)
			if ok(last) {
				return last
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// hydrated waits until React has hydrated the page: Next's router is
// there and the network is quiet.
func (tb *tab) hydrated() {
	tb.t.Helper()
	tb.do(30*time.Second, "wait for hydration",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.readyState === "complete" && !!window.next && !!window.next.router`))
			return err
		}),
		chromedp.Sleep(time.Second))
}

func init() {
	// chromium as root writes crash dumps there unless told otherwise.
	_ = os.Setenv("XDG_CONFIG_HOME", os.TempDir())
}
