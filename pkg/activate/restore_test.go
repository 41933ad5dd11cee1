package activate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/nginx"
)

// logOf is the fake's log lines of one host, without the host name.
func logOf(f *fakeOps, host string) []string {
	var out []string
	for _, l := range f.log {
		if rest, ok := strings.CutPrefix(l, host+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// A host that goes back has its app side put back (the ecosystem a
// failed activation rewrote) before the old release is reloaded and
// checked; a first activation that fails has it undone.
func TestGoingBackRestoresTheAppSideFirst(t *testing.T) {
	f, hosts := newFleet(1, "v1", "v1", "v2")
	f.servers["h0"].bad["v2"] = true
	Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	want := []string{"prepare", "switch v2", "reload v2", "check v2", "switch v1", `restore for "v1"`, "reload v1", "check v1"}
	if got := logOf(f, "h0"); !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}

	f, hosts = newFleet(1, "", "v2")
	f.servers["h0"].bad["v2"] = true
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	if got := logOf(f, "h0"); !slices.Contains(got, `restore for ""`) {
		t.Errorf("a failed first activation was not undone: %q", got)
	}
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "no previous release") {
		t.Errorf("err = %v", rep.Err)
	}
}

// The static files of the release left are checked on a host that
// switched and passed, and the answer is in its result; a host that did
// not switch is not checked.
func TestOldStaticCheckedAfterASwitch(t *testing.T) {
	f, hosts := newFleet(2, "v1", "v1", "v2")
	f.servers["h0"].oldStatic = &nginx.Static{Release: "v1", Status: 404}
	f.servers["h1"].current = "v2"
	f.servers["h1"].running = "v2"
	rep := Run(context.Background(), f, hosts, activateTo("v2"), Options{})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if s := rep.Hosts[0].OldStatic; s == nil || s.Release != "v1" || s.Served {
		t.Errorf("h0 old static = %+v, want v1 not served", s)
	}
	if slices.Contains(logOf(f, "h1"), "old static v2") || rep.Hosts[1].OldStatic != nil {
		t.Errorf("h1 was already on v2 and was checked: %q", logOf(f, "h1"))
	}
}
