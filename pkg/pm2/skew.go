package pm2

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// Skew protection (docs/skew.md): the release an activation replaced
// keeps serving the tabs opened on it for a window, as a pm2 app of its
// own, the kept app <app>-skew-<release>: a copy of the ecosystem's app
// (its env blocks included) with cwd and script in releases/<release>
// (not through current: it must not follow a switch), listening on the
// unix socket SkewDir/<release>.d/http.sock (the drain preload moves the
// app's server there); nginx routes to it while the directory exists. The preload ends the
// app when its window is over (NEXT_DEPLOY_SKEW_UNTIL); pm2 leaves it
// stopped (stop_exit_codes), and the next activation removes it.

// Files of skew protection, relative to the root.
const (
	// SkewDir holds a directory per kept app, <release>.d (SkewDirSuffix),
	// with its socket, http.sock (SkewSocketName).
	SkewDir        = ".next-deploy/skew"
	SkewDirSuffix  = ".d"
	SkewSocketName = "http.sock"
	// SkewConfigPath is the helper ecosystem that starts a kept app.
	SkewConfigPath = ".next-deploy/skew.config.js"
)

// SkewInfix joins the app's name and the release in a kept app's name.
const SkewInfix = "-skew-"

// SkewSocket is release id's socket, relative to the root.
func SkewSocket(id string) string { return SkewDir + "/" + id + SkewDirSuffix + "/" + SkewSocketName }

// SkewName is the pm2 name of app's kept app for release id.
func SkewName(app, id string) string { return app + SkewInfix + id }

// Kept is one kept app as pm2 lists it.
type Kept struct {
	Name    string `json:"name"`
	Release string `json:"release"`
	// Until is when its window ends (zero when pm2 did not say).
	Until time.Time `json:"until"`
	// Workers counts its processes; Online those online.
	Workers int `json:"workers"`
	Online  int `json:"online"`
}

// IsSkew tells whether a pm2 app name is a kept app of one of the
// ecosystem's apps, and of which release.
func (s *Site) IsSkew(name string) (app, id string, ok bool) {
	for _, a := range s.Apps {
		if rest, found := strings.CutPrefix(name, a.Name+SkewInfix); found && release.ValidID(rest) == nil {
			return a.Name, rest, true
		}
	}
	return "", "", false
}

// SkewProcs are the processes of kept apps of the ecosystem's apps.
func (s *Site) SkewProcs(ps []Proc) []Proc {
	var out []Proc
	for _, p := range ps {
		if _, _, ok := s.IsSkew(p.Name); ok {
			out = append(out, p)
		}
	}
	return out
}

// KeptApps groups the kept apps of app in ps, oldest window end first.
func (s *Site) KeptApps(ps []Proc, app string) []Kept {
	byName := map[string]*Kept{}
	var out []*Kept
	for _, p := range ps {
		a, id, ok := s.IsSkew(p.Name)
		if !ok || a != app {
			continue
		}
		k := byName[p.Name]
		if k == nil {
			k = &Kept{Name: p.Name, Release: id}
			byName[p.Name] = k
			out = append(out, k)
		}
		k.Workers++
		if p.Status == "online" {
			k.Online++
		}
		if !p.SkewUntil.IsZero() && p.SkewUntil.After(k.Until) {
			k.Until = p.SkewUntil
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Until.Before(out[j].Until) })
	res := make([]Kept, len(out))
	for i, k := range out {
		res[i] = *k
	}
	return res
}

// SkewApp picks the ecosystem app that gets kept apps: the one named
// name, or the only one.
func (s *Site) SkewApp(name string) (App, error) {
	for _, a := range s.Apps {
		if a.Name == name {
			return a, nil
		}
	}
	if len(s.Apps) == 1 {
		return s.Apps[0], nil
	}
	return App{}, fmt.Errorf("the ecosystem has no app %q and %d others: name the Next app with --name", name, len(s.Apps))
}

// Keep says which kept app to start.
type Keep struct {
	// App is the ecosystem app to copy (Site.SkewApp).
	App App
	// Release is the release it runs; Until ends its window.
	Release string
	Until   time.Time
	// Instances is its number of workers (default 1).
	Instances int
}

// pinnedTo is p (under <root>/current) moved into releases/<id>.
func (s *Site) pinnedTo(p, id string) (string, error) {
	rest, ok := strings.CutPrefix(p, s.Root+"/current")
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return "", fmt.Errorf("%s is not under %s/current", p, s.Root)
	}
	return s.Root + "/releases/" + id + rest, nil
}

// StartKept starts k's kept app, or when it runs already gives it the new
// window by a reload (its workers are replaced one by one: it keeps
// serving). It returns once pm2 reports its workers online.
func (r Runner) StartKept(ctx context.Context, h remote.Host, s *Site, k Keep) error {
	name := SkewName(k.App.Name, k.Release)
	fail := func(err error) error {
		return fmt.Errorf("keep release %s serving (%s) on %s: %w", k.Release, name, h.Name(), err)
	}
	if err := release.ValidID(k.Release); err != nil {
		return fail(err)
	}
	cwd, err := s.pinnedTo(k.App.Cwd, k.Release)
	if err != nil {
		return fail(err)
	}
	script, err := s.pinnedTo(k.App.Script, k.Release)
	if err != nil {
		return fail(err)
	}
	if k.Instances < 1 {
		k.Instances = 1
	}
	if _, err := r.writeFile(ctx, h, SkewConfigPath, []byte(skewConfigJS), false); err != nil {
		return fail(err)
	}
	until := strconv.FormatInt(k.Until.UnixMilli(), 10)
	if _, err := r.run(ctx, h, "start "+name, skewStartScript, r.Ecosystem, k.App.Name, name, k.Release, cwd, script,
		strconv.Itoa(k.Instances), until, SkewSocket(k.Release), SkewConfigPath, PreloadPath, skewStateJS); err != nil {
		return fail(err)
	}
	if err := r.waitOnline(ctx, h, name); err != nil {
		return fail(err)
	}
	return nil
}

// EndKept stops and removes a kept app (its workers drain) and its
// directory: nginx stops routing to it at once.
func (r Runner) EndKept(ctx context.Context, h remote.Host, k Kept) error {
	if _, err := r.run(ctx, h, "end "+k.Name, skewEndScript, k.Name, SkewDir+"/"+k.Release+SkewDirSuffix); err != nil {
		return fmt.Errorf("end the kept app %s on %s: %w", k.Name, h.Name(), err)
	}
	return nil
}

// CleanSockets removes the directories in SkewDir of releases not in
// live: left by a kept app that died without closing (a reboot, pm2
// killed). nginx would fall back to current for them anyway, after a
// failed connection.
func (r Runner) CleanSockets(ctx context.Context, h remote.Host, live []string) error {
	if _, err := r.run(ctx, h, "clean kept apps' sockets", skewCleanScript, append([]string{SkewDir, SkewDirSuffix}, live...)...); err != nil {
		return err
	}
	return nil
}
