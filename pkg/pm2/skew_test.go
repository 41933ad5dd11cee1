package pm2

import (
	"reflect"
	"testing"
	"time"
)

func skewSite() *Site {
	return &Site{Root: "/app", RealRoot: "/srv/app", Apps: []App{
		{Name: "web", Cwd: "/app/current", Script: "/app/current/server.js"},
		{Name: "web-skew", Cwd: "/app/current/apps/x", Script: "/app/current/apps/x/server.js"},
	}}
}

func TestIsSkew(t *testing.T) {
	s := skewSite()
	for _, c := range []struct {
		name    string
		app, id string
		ok      bool
	}{
		{"web-skew-r1", "web", "r1", true},
		{"web-skew-a.b_c-1", "web", "a.b_c-1", true},
		{"web", "", "", false},
		{"web-skew-", "", "", false},
		{"web-skew-../x", "", "", false},
		{"other-skew-r1", "", "", false},
		{"web-next-deploy-migrating", "", "", false},
	} {
		app, id, ok := s.IsSkew(c.name)
		if app != c.app || id != c.id || ok != c.ok {
			t.Errorf("IsSkew(%q) = %q, %q, %v; want %q, %q, %v", c.name, app, id, ok, c.app, c.id, c.ok)
		}
	}
}

func TestKeptAppsGroupsWorkersOldestFirst(t *testing.T) {
	s := skewSite()
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 10, m, 0, 0, time.UTC) }
	ps := []Proc{
		{Name: "web", Status: "online"},
		{Name: "web-skew-r2", Status: "online", SkewUntil: at(30)},
		{Name: "web-skew-r1", Status: "online", SkewUntil: at(15)},
		{Name: "web-skew-r2", Status: "launching", SkewUntil: at(30)},
		{Name: "web-skew-r0", Status: "stopped", SkewUntil: at(5)},
	}
	got := s.KeptApps(ps, "web")
	want := []Kept{
		{Name: "web-skew-r0", Release: "r0", Until: at(5), Workers: 1, Online: 0},
		{Name: "web-skew-r1", Release: "r1", Until: at(15), Workers: 1, Online: 1},
		{Name: "web-skew-r2", Release: "r2", Until: at(30), Workers: 2, Online: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KeptApps:\n got %+v\nwant %+v", got, want)
	}
	if n := len(s.SkewProcs(ps)); n != 4 {
		t.Errorf("SkewProcs: %d, want 4", n)
	}
}

func TestSkewAppAndPaths(t *testing.T) {
	s := skewSite()
	if a, err := s.SkewApp("web"); err != nil || a.Name != "web" {
		t.Errorf("SkewApp(web) = %+v, %v", a, err)
	}
	if _, err := s.SkewApp("api"); err == nil {
		t.Error("SkewApp(api) of two apps without it: want an error")
	}
	one := &Site{Root: "/app", Apps: []App{{Name: "shop"}}}
	if a, err := one.SkewApp("web"); err != nil || a.Name != "shop" {
		t.Errorf("the only app: %+v, %v", a, err)
	}
	for _, c := range []struct{ in, want string }{
		{"/app/current", "/app/releases/r1"},
		{"/app/current/apps/web/server.js", "/app/releases/r1/apps/web/server.js"},
		{"/app/currently", ""},
		{"/elsewhere/server.js", ""},
	} {
		got, err := s.pinnedTo(c.in, "r1")
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("pinnedTo(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if got, want := SkewSocket("r1"), ".next-deploy/skew/r1.d/http.sock"; got != want {
		t.Errorf("SkewSocket = %q, want %q", got, want)
	}
}
