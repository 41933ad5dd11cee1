package skew

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/test/bed"
)

// window is the skew window of the test: long enough for the second
// activation and the clicks, short enough to wait for its end.
const window = 100 * time.Second

// TestSkewProtectionInBrowser is the scenario in a real browser:
// a tab opened on r1 stays open while r2, then r3 go live on both hosts
// (under load: no request fails); its Server Action still succeeds,
// served by r1, and its client Link still renders, with no console error
// and no failed request; after the window its next navigation lands on r3
// with one hard reload. Then the same without the window
// (--skew-window 0): the Server Action fails, so the test can fail.
func TestSkewProtectionInBrowser(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("ND_E2E_NEXT") != "1" {
		t.Skip("three real next builds and a browser: set ND_E2E_NEXT=1 (always under CI=true)")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build the fixture", tool)
		}
	}
	chromium(t)
	bed.RequireRoot(t)
	work := t.TempDir()
	var chunks []string
	for _, id := range []string{"r1", "r2", "r3"} {
		start := time.Now()
		chunks = append(chunks, build(t, work, id)...)
		t.Logf("built %s in %s", id, time.Since(start).Round(time.Second))
	}
	b := startBed(t)
	for _, id := range []string{"r1", "r2", "r3"} {
		mustOnBed(t, work, b, "deliver", "--artifact", filepath.Join(work, "artifacts", id+".tar.zst"))
	}
	mustOnBed(t, work, b, activateFlags("r1")...)
	actx := browser(t, b)

	tb := newTab(t, actx)
	tb.do(time.Minute, "open /skew on r1", chromedp.Navigate(origin+"/skew"))
	tb.hydrated()
	if got := tb.text(10*time.Second, "#skew-release"); got != "skew r1" {
		t.Fatalf("the page opened on r1 says %q", got)
	}

	load := pm2test.Load{BaseURL: "http://" + b.BalancerAddr, Workers: 6, Chunks: chunks}.Start(context.Background())
	for _, id := range []string{"r2", "r3"} {
		out := mustOnBed(t, work, b, activateFlags(id, "--skew-window", window.String(), "--skew-keep", "2")...)
		t.Logf("activate %s:\n%s", id, out)
	}
	stats := load.Stop()
	t.Logf("load during both activations: %s", stats)
	if stats.Failures != 0 || stats.Requests == 0 {
		t.Errorf("load during the activations: %s; first errors: %s", stats, strings.Join(stats.Errors, "; "))
	}
	keptOnEveryHost(t, work, b, "r1", "r2")

	t.Run("server action of the r1 tab succeeds, served by r1", func(t *testing.T) {
		tb.mark()
		tb.do(15*time.Second, "click Note", chromedp.Click(chromedp.CSS("form button[type=submit]")))
		got := tb.waitText(20*time.Second, "#note-reply", func(s string) bool { return s != "" })
		if want := "noted hello by r1"; got != want {
			t.Errorf("Server Action reply %q, want %q", got, want)
		}
		clean(t, tb, "the Server Action")
	})
	t.Run("client link of the r1 tab renders", func(t *testing.T) {
		tb.mark()
		tb.do(15*time.Second, "click Target", chromedp.Click(chromedp.CSS("#to-target")))
		got := tb.waitText(20*time.Second, "#target-release", func(s string) bool { return s != "" })
		if want := "target of r1, served by r1"; got != want {
			t.Errorf("target page says %q, want %q", got, want)
		}
		_, _, docs := tb.seen()
		if docs > 1 {
			t.Errorf("%d document loads, want a client navigation or one hard reload", docs)
		}
		clean(t, tb, "the client navigation")
		t.Logf("navigation to /skew/target: %d document loads", docs)
	})
	t.Run("after the window the tab lands on r3 with one hard reload", func(t *testing.T) {
		waitWindowOver(t, work, b, "r1")
		tb.mark()
		tb.do(15*time.Second, "click Back", chromedp.Click(chromedp.CSS("#to-skew")))
		got := tb.waitText(30*time.Second, "#skew-release", func(s string) bool { return s == "skew r3" })
		if got != "skew r3" {
			t.Errorf("after the window the tab shows %q, want skew r3", got)
		}
		if _, _, docs := tb.seen(); docs != 1 {
			t.Errorf("%d document loads, want one hard reload", docs)
		}
		clean(t, tb, "the navigation after the window")
	})
	t.Run("without the window the server action fails", func(t *testing.T) {
		mustOnBed(t, work, b, activateFlags("r1", "--skew-window", "0")...)
		tb2 := newTab(t, tb.ctx) // the same browser: a second one would share the profile
		tb2.do(time.Minute, "open /skew on r1", chromedp.Navigate(origin+"/skew"))
		tb2.hydrated()
		if got := tb2.text(10*time.Second, "#skew-release"); got != "skew r1" {
			t.Fatalf("the page opened on r1 says %q", got)
		}
		mustOnBed(t, work, b, activateFlags("r2", "--skew-window", "0")...)
		keptOnEveryHost(t, work, b)
		tb2.mark()
		tb2.do(15*time.Second, "click Note", chromedp.Click(chromedp.CSS("form button[type=submit]")))
		got := tb2.waitText(15*time.Second, "#note-reply", func(s string) bool { return s != "" })
		errs, _, _ := tb2.seen()
		t.Logf("without the window: reply %q; the tab logged:\n%s", got, strings.Join(errs, "\n"))
		if got == "noted hello by r1" || len(errs) == 0 {
			t.Errorf("the Server Action of the r1 tab did not fail after activate r2 --skew-window 0: reply %q, errors %q", got, errs)
		}
	})
}

// clean fails the test on any console error, exception or failed request
// the tab logged since its last mark.
func clean(t *testing.T, tb *tab, what string) {
	t.Helper()
	errs, reqs, _ := tb.seen()
	for _, e := range errs {
		t.Errorf("%s: the tab logged %s", what, e)
	}
	if t.Failed() {
		t.Logf("requests of the tab:\n%s", strings.Join(reqs, "\n"))
	}
	for _, r := range reqs {
		if strings.Contains(r, "ChunkLoadError") {
			t.Errorf("%s: %s", what, r)
		}
	}
}

// keptOnEveryHost checks that every host runs kept apps of exactly the
// releases ids, online, and logs their memory: the benchmark line.
func keptOnEveryHost(t *testing.T, work string, b *bed.Bed, ids ...string) {
	t.Helper()
	for host, ws := range workers(t, work, b) {
		var kept []string
		var keptRSS, appRSS []string
		for _, w := range ws {
			if w.Kept {
				if w.Status == "online" {
					kept = append(kept, w.Release)
				}
				keptRSS = append(keptRSS, fmt.Sprintf("%s %.1f MiB", w.Release, float64(w.RSS)/(1<<20)))
			} else {
				appRSS = append(appRSS, fmt.Sprintf("%.1f MiB", float64(w.RSS)/(1<<20)))
			}
		}
		if strings.Join(kept, ",") != strings.Join(ids, ",") {
			t.Errorf("%s runs kept apps of %q, want %q: %s", host, kept, ids, jsonString(ws))
		}
		if len(ids) > 0 {
			t.Logf("BENCH skew %s: RSS per kept release (1 worker): %s; a worker of current: %s", host, strings.Join(keptRSS, ", "), strings.Join(appRSS, ", "))
		}
	}
}

// waitWindowOver waits until no host runs id's kept app any more: its
// preload ended it when the window was over.
func waitWindowOver(t *testing.T, work string, b *bed.Bed, id string) {
	t.Helper()
	end := time.Now().Add(window + time.Minute)
	for time.Now().Before(end) {
		running := false
		for _, ws := range workers(t, work, b) {
			for _, w := range ws {
				running = running || (w.Kept && w.Release == id && w.Status == "online")
			}
		}
		if !running {
			for _, h := range b.Hosts {
				if out := strings.TrimSpace(b.RunAs(t, h, `ls ~/app/.next-deploy/skew/`)); strings.Contains(out, id+".d") {
					t.Errorf("%s: the window of %s is over but its directory stays: %s", h.Name(), id, out)
				}
			}
			return
		}
		time.Sleep(5 * time.Second)
	}
	t.Fatalf("the kept app of %s still runs %s after its window", id, time.Minute)
}
