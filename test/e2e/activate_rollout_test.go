package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// TestActivateRollbackPruneUnderLoad is the rollout a user relies on, on
// the bed (2 hosts, nginx each, the balancer in front) with the tiny
// Next-like server:
//   - v1 then v2 under constant load through the balancer (page GETs, v1
//     chunk URLs, POSTs): 0 failed requests; every host then serves v2 and
//     the v1 chunks are still 200;
//   - a release that crashes at start: the health gate stops the rollout,
//     the host is back on v2, 0 failed requests, exit 1;
//   - rollback returns every host to the previous release, under load;
//   - prune removes v1, whose chunk URLs then 404.
func TestActivateRollbackPruneUnderLoad(t *testing.T) {
	testRolloutUnderLoad(t, actTiny{})
}

func testRolloutUnderLoad(t *testing.T, s actShipper) {
	if p, ok := s.(interface{ prebuild(*testing.T, ...string) }); ok {
		p.prebuild(t, "v1", "v2", "v4")
	}
	b := actBed(t)
	for _, id := range []string{"v1", "v2"} {
		s.ship(t, b, id, false)
	}
	if status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "v1"}, actFlags()...)...); status != 0 {
		t.Fatalf("first activation: exit %d\n%s\n%s", status, out, errOut)
	}
	step(t, "v1 to v2 under load", func(t *testing.T) { v1ToV2(t, b, s) })
	s.ship(t, b, "boom3", true)
	step(t, "a release crashing at start", func(t *testing.T) { crashAtStart(t, b, s) })
	step(t, "rollback under load", func(t *testing.T) { rollbackUnderLoad(t, b, s) })
	step(t, "prune removes v1 and its chunks", func(t *testing.T) { pruneV1(t, b, s) })
}

func v1ToV2(t *testing.T, b *bed.Bed, s actShipper) {
	load := actLoad(b, s.chunks("v1"))
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "v2", "--json"}, actFlags()...)...)
	time.Sleep(time.Second)
	st := load.Stop()
	t.Logf("load: %s", st)
	if status != 0 {
		t.Fatalf("activate v2: exit %d\n%s\n%s", status, out, errOut)
	}
	if st.Failures != 0 || st.Releases["v1"] == 0 || st.Releases["v2"] == 0 {
		t.Errorf("load during the rollout: %s; want 0 failed, both releases seen: %v", st, st.Errors)
	}
	servesEverywhere(t, b, "v2")
	for _, h := range b.Hosts {
		for _, c := range s.chunks("v1") {
			if code, _ := actHostGet(t, h, c); code != 200 {
				t.Errorf("%s: v1 chunk %s = %d after the switch, want 200 (a browser on a v1 page)", h.Name(), c, code)
			}
		}
	}
}

func crashAtStart(t *testing.T, b *bed.Bed, s actShipper) {
	load := actLoad(b, s.chunks("v2"))
	status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", "boom3"}, actFlags("--health-timeout", "10s")...)...)
	st := load.Stop()
	t.Logf("load: %s", st)
	t.Logf("activate boom3 (exit %d):\n%s%s", status, out, errOut)
	if status != 1 {
		t.Fatalf("activate of a crashing release: exit %d, want 1\n%s\n%s", status, out, errOut)
	}
	if !strings.Contains(out+errOut, "rolled back") {
		t.Errorf("the report does not say the host went back:\n%s\n%s", out, errOut)
	}
	if st.Failures != 0 {
		t.Errorf("load during the failed rollout: %s; want 0 failed: %v", st, st.Errors)
	}
	servesEverywhere(t, b, "v2")
}

func rollbackUnderLoad(t *testing.T, b *bed.Bed, s actShipper) {
	load := actLoad(b, s.chunks("v1"))
	status, out, errOut := actCLI(t, b, append([]string{"rollback"}, actFlags()...)...)
	st := load.Stop()
	t.Logf("load: %s", st)
	if status != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", status, out, errOut)
	}
	if st.Failures != 0 {
		t.Errorf("load during the rollback: %s; want 0 failed: %v", st, st.Errors)
	}
	servesEverywhere(t, b, "v1")
}

func pruneV1(t *testing.T, b *bed.Bed, s actShipper) {
	s.ship(t, b, "v4", false)
	for _, id := range []string{"v2", "v4"} {
		if status, out, errOut := actCLI(t, b, append([]string{"activate", "--release", id}, actFlags()...)...); status != 0 {
			t.Fatalf("activate %s: exit %d\n%s\n%s", id, status, out, errOut)
		}
	}
	// current v4, previous v2: v1 and boom3 go.
	status, out, errOut := actCLI(t, b, "prune", "--keep", "2")
	if status != 0 {
		t.Fatalf("prune: exit %d\n%s\n%s", status, out, errOut)
	}
	for _, h := range b.Hosts {
		left := strings.Fields(b.RunAs(t, h, `ls ~/app/releases`))
		if strings.Join(left, ",") != "v2,v4" {
			t.Errorf("%s: releases left %v, want v2 and v4\n%s", h.Name(), left, out)
		}
		for _, c := range s.chunks("v1") {
			if code, _ := actHostGet(t, h, c); code != 404 {
				t.Errorf("%s: v1 chunk %s = %d after prune, want 404", h.Name(), c, code)
			}
		}
	}
	servesEverywhere(t, b, "v4")
}

// step runs one stage of a scenario; a failed stage ends the scenario.
func step(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, fn) {
		t.FailNow()
	}
}

// servesEverywhere checks that every host's current is id and its nginx
// serves a page of id.
func servesEverywhere(t *testing.T, b *bed.Bed, id string) {
	t.Helper()
	for _, h := range b.Hosts {
		if cur := actCurrent(t, b, h); cur != id {
			t.Errorf("%s: current -> %s, want %s", h.Name(), cur, id)
		}
		for range 4 {
			code, body := actHostGet(t, h, "/")
			if code != 200 || !strings.Contains(body, "/"+id+"/_next/") {
				t.Errorf("%s: page %d does not reference /%s/_next/: %.200s", h.Name(), code, id, body)
				break
			}
		}
	}
}
