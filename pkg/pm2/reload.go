package pm2

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// CheckEcosystemPath refuses an ecosystem path that pm2 must not be run
// with: outside the deploy root, or inside a release (a file there that
// says cwd: __dirname pins the app to that release).
func CheckEcosystemPath(p string) error {
	clean := path.Clean(p)
	switch {
	case p == "" || path.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../"):
		return fmt.Errorf("ecosystem %q: want a file relative to the deploy path, like ecosystem.config.js", p)
	case clean == "current" || strings.HasPrefix(clean, "current/") || strings.HasPrefix(clean, "releases/"):
		return fmt.Errorf("ecosystem %q is inside a release: pm2 would keep that release's paths; keep the ecosystem in the deploy path (next-deploy config pm2)", p)
	}
	return nil
}

// Placement is where a pm2 process takes its code from.
type Placement string

// Placements.
const (
	// OnCurrent: cwd and script go through <root>/current: a reload starts
	// whatever current points at.
	OnCurrent Placement = "current"
	// Pinned: the paths were resolved at start and point into
	// releases/<id>: a reload starts that release again, forever.
	Pinned Placement = "pinned"
	// Foreign: the paths are outside the deploy root.
	Foreign Placement = "foreign"
)

// Place tells where p takes its code from.
func (s *Site) Place(p Proc) Placement {
	under := func(x, dir string) bool { return x == dir || strings.HasPrefix(x, dir+"/") }
	cur := s.Root + "/current"
	if under(p.Cwd, cur) && under(p.Script, cur) {
		return OnCurrent
	}
	for _, root := range []string{s.Root, s.RealRoot} {
		if under(p.Cwd, root+"/releases") || under(p.Script, root+"/releases") {
			return Pinned
		}
	}
	return Foreign
}

// CheckApps refuses an ecosystem whose apps would not follow current.
func (s *Site) CheckApps() error {
	if len(s.Apps) == 0 {
		return errors.New("the ecosystem defines no app")
	}
	var errs []error
	for _, a := range s.Apps {
		if p := s.Place(Proc{Cwd: a.Cwd, Script: a.Script}); p != OnCurrent {
			errs = append(errs, fmt.Errorf("app %q has cwd %s and script %s, not under %s/current: pm2 would not follow a switch; use absolute paths through current (next-deploy config pm2)", a.Name, a.Cwd, a.Script, s.Root))
		}
		if a.ExecMode != "cluster" && a.ExecMode != "cluster_mode" {
			errs = append(errs, fmt.Errorf("app %q runs in %s mode: a reload would stop it before its replacement listens; use exec_mode: 'cluster'", a.Name, a.ExecMode))
		}
	}
	return errors.Join(errs...)
}

// Names are the ecosystem's app names.
func (s *Site) Names() []string {
	var ns []string
	for _, a := range s.Apps {
		ns = append(ns, a.Name)
	}
	return ns
}

// Ours returns the processes of the ecosystem's apps.
func (s *Site) Ours(ps []Proc) []Proc {
	var out []Proc
	for _, p := range ps {
		for _, a := range s.Apps {
			if p.Name == a.Name {
				out = append(out, p)
			}
		}
	}
	return out
}

// RunsRelease reports whether p really runs release id: its working
// directory, resolved by the kernel, is inside releases/<id>.
func (s *Site) RunsRelease(p Proc, id string) bool {
	dir := s.RealRoot + "/releases/" + id
	return p.RealCwd == dir || strings.HasPrefix(p.RealCwd, dir+"/")
}

// ReleaseOf names the release p really runs (from /proc/<pid>/cwd), or
// "" when it runs outside releases/.
func (s *Site) ReleaseOf(p Proc) string {
	rest, ok := strings.CutPrefix(p.RealCwd, s.RealRoot+"/releases/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// Workers are the processes of the ecosystem's apps, or when the host
// has no ecosystem, every process that runs from the deploy root.
func (s *Site) Workers(ps []Proc) []Proc {
	if s.Apps != nil {
		return s.Ours(ps)
	}
	var out []Proc
	for _, p := range ps {
		if s.Place(p) != Foreign {
			out = append(out, p)
		}
	}
	return out
}

// Verify checks that every worker of the ecosystem's apps is online and
// really runs release id.
func (s *Site) Verify(ps []Proc, id string) error {
	ours := s.Ours(ps)
	var errs []error
	for _, name := range s.Names() {
		n := 0
		for _, p := range ours {
			if p.Name == name {
				n++
			}
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("app %q is not running", name))
		}
	}
	for _, p := range ours {
		switch {
		case p.Status != "online":
			errs = append(errs, fmt.Errorf("worker %s of %q is %s", p.Key(), p.Name, p.Status))
		case !s.RunsRelease(p, id):
			errs = append(errs, fmt.Errorf("worker %s of %q (pid %d) runs in %s, not in release %s", p.Key(), p.Name, p.PID, p.RealCwd, id))
		}
	}
	return errors.Join(errs...)
}

// Crashing reports whether a worker of ours is crash-looping compared with
// before (restarts by Key before the reload): more than the one restart a
// reload makes, or waiting for a restart after a crash.
func (s *Site) Crashing(now []Proc, before map[string]int) (Proc, bool) {
	for _, p := range s.Ours(now) {
		if p.Status == "errored" || p.Status == "waiting restart" || p.Restarts > before[p.Key()]+1 {
			return p, true
		}
	}
	return Proc{}, false
}

// Watch tunes Reload.
type Watch struct {
	// Poll is the pause between two looks at the workers.
	Poll time.Duration
	// Rescue is called once when a new worker crash-loops during the
	// reload. It switches current back: pm2's next restart of that worker
	// then starts the old release, which answers 'ready', so pm2 never
	// stops an old worker without a working replacement (it would after
	// listen_timeout, whatever the new one does).
	Rescue func(ctx context.Context) error
}

// Reload runs the proven reload (ReloadOnce) of the ecosystem's apps while
// watching the workers; when none of them runs yet it starts them. It
// reports whether Rescue was called.
func (r Runner) Reload(ctx context.Context, h remote.Host, s *Site, w Watch) (rescued bool, err error) {
	ps, err := r.Status(ctx, h)
	if err != nil {
		return false, err
	}
	ours := s.Ours(ps)
	if len(ours) == 0 {
		return false, r.Start(ctx, h)
	}
	before := map[string]int{}
	for _, p := range ours {
		before[p.Key()] = p.Restarts
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.ReloadOnce(wctx, h) }()
	poll := w.Poll
	if poll <= 0 {
		poll = time.Second
	}
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		select {
		case err := <-done:
			return rescued, err
		case <-timer.C:
		}
		if now, err := r.Status(wctx, h); err == nil && !rescued && w.Rescue != nil {
			if p, bad := s.Crashing(now, before); bad {
				rescued = true
				if err := w.Rescue(ctx); err != nil {
					return true, fmt.Errorf("worker %s of %q crash-loops during the reload and switching back failed: %w", p.Key(), p.Name, err)
				}
			}
		}
		timer.Reset(poll)
	}
}
