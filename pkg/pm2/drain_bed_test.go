package pm2_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/test/bed"
)

// A pm2 cluster worker drains as the ecosystem says (config pm2's drain
// and kill timeout), not with the preload's defaults: pm2 hands a
// cluster worker its environment in pm2_env, and copies it into
// process.env only after the preload has run. With the defaults a leaving
// worker gave up on its requests 6 s after SIGINT whatever
// --kill-timeout allowed. Two requests longer than that, one on each
// worker (the cluster primary deals connections round-robin), are in
// flight during the reload: both must be answered by r1.
func TestClusterWorkersDrainAsTheEcosystemSays(t *testing.T) {
	const drain, kill, slow = 2500 * time.Millisecond, 16 * time.Second, 9 * time.Second
	b := bed.Start(t, bed.Options{Hosts: 1, PM2: true})
	s := siteOn(t, b, b.Hosts[0], func(c *pm2.Config) { c.Drain, c.KillTimeout = drain, kill }, "r1", "r2")
	s.startOn(t, "r1")
	s.runs(t, "r1")
	if got := s.procs(t); len(got) != 2 || got[0].Mode != "cluster_mode" {
		t.Fatalf("want 2 cluster workers, got %+v", got)
	}
	type answer struct {
		release string
		err     error
	}
	answers := make(chan answer, 2)
	c := &http.Client{Timeout: 2 * kill, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 2 {
		go func() {
			resp, err := c.Get(fmt.Sprintf("http://%s/slow?ms=%d", s.h.AppAddr, slow.Milliseconds()))
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			var v struct{ Release string }
			b, err := io.ReadAll(resp.Body)
			if err == nil {
				err = json.Unmarshal(b, &v)
			}
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
			}
			answers <- answer{release: v.Release, err: err}
		}()
		time.Sleep(200 * time.Millisecond) // in order: one connection per worker
	}
	s.switchTo(t, "r2")
	if err := s.run.ReloadOnce(context.Background(), s.host); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		a := <-answers
		if a.err != nil || a.release != "r1" {
			t.Errorf("a %s request in flight during the reload (kill timeout %s): answered by %q, %v; want r1's answer", slow, kill, a.release, a.err)
		}
	}
	s.runs(t, "r2")
	logs := s.b.RunAs(t, s.h, `cat "$PM2_HOME"/logs/*-error*.log`)
	want := fmt.Sprintf("answering with Connection: close for %d ms", drain.Milliseconds())
	if n := strings.Count(logs, want); n != 2 {
		t.Errorf("the two r1 workers' logs say %q %d times, want 2:\n%s", want, n, logs)
	}
}
