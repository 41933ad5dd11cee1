package pm2

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
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
	// Rescue is called once when a new worker crash-loops, or does not
	// get ready (Unready), during the reload. It switches current back:
	// pm2's next restart of that worker then starts the old release,
	// which answers 'ready', so pm2 never stops an old worker without a
	// working replacement (it would after listen_timeout, whatever the new
	// one does). An unready worker is killed after the Rescue, to be
	// restarted so.
	Rescue func(ctx context.Context) error
	// Before, when set, is the process list the caller took just before
	// the reload, with nothing done to pm2 since: Reload then does not
	// list the processes again before it starts.
	Before []Proc
	// Look, when set, is how the watch looks at the workers (a
	// Looker's); StatusMemory when nil.
	Look func(ctx context.Context) ([]Proc, error)
}

// Reload runs the proven reload (ReloadOnce) of the ecosystem's apps while
// watching the workers; when none of them runs yet it starts them. It
// reports whether Rescue was called. A reload rescued from workers that
// never got ready ends with an error that says so, once pm2 is done.
func (r Runner) Reload(ctx context.Context, h remote.Host, s *Site, w Watch) (rescued bool, err error) {
	ps := w.Before
	if ps == nil {
		if ps, err = r.Status(ctx, h); err != nil {
			return false, err
		}
	}
	ours := s.Ours(ps)
	if len(ours) == 0 {
		return false, r.Start(ctx, h)
	}
	x := newReloadWatch(r, h, s, w, ours)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.ReloadOnce(wctx, h) }()
	timer := time.NewTimer(x.poll)
	defer timer.Stop()
	for {
		select {
		case err := <-done:
			return x.rescued, errors.Join(err, x.unready)
		case <-timer.C:
		}
		if err := x.look(ctx, wctx); err != nil {
			return true, err
		}
		timer.Reset(x.poll)
	}
}

// reloadWatch is what Reload learns while it watches one reload.
type reloadWatch struct {
	r    Runner
	h    remote.Host
	s    *Site
	w    Watch
	poll time.Duration
	// restarts and pids are each worker's (by Key) before the reload.
	restarts map[string]int
	pids     map[string]int
	// seen is when each new worker was first seen; killed the unready
	// ones killed.
	seen   map[int]time.Time
	killed map[int]bool
	// rescued: Rescue was called, at rescuedAt; unready says why when
	// workers never got ready.
	rescued   bool
	rescuedAt time.Time
	unready   error
}

func newReloadWatch(r Runner, h remote.Host, s *Site, w Watch, ours []Proc) *reloadWatch {
	x := &reloadWatch{r: r, h: h, s: s, w: w, poll: w.Poll,
		restarts: map[string]int{}, pids: map[string]int{}, seen: map[int]time.Time{}, killed: map[int]bool{}}
	if x.poll <= 0 {
		x.poll = pollFor(ours)
	}
	for _, p := range ours {
		x.restarts[p.Key()] = p.Restarts
		x.pids[p.Key()] = p.PID
	}
	return x
}

// look checks the workers once: a crash loop or a new worker that does
// not get ready is rescued. Its error is a failed Rescue.
func (x *reloadWatch) look(ctx, wctx context.Context) error {
	if x.w.Rescue == nil {
		return nil
	}
	look := x.w.Look
	if look == nil {
		look = func(ctx context.Context) ([]Proc, error) { return x.r.StatusMemory(ctx, x.h) }
	}
	now, err := look(wctx)
	if err != nil {
		return nil // the next look may do better; pm2 goes on meanwhile
	}
	if !x.rescued {
		if p, bad := x.s.Crashing(now, x.restarts); bad {
			if err := x.rescue(ctx); err != nil {
				return fmt.Errorf("worker %s of %q crash-loops during the reload and switching back failed: %w", p.Key(), p.Name, err)
			}
		}
	}
	var give []Proc
	for _, p := range x.s.Unready(now, x.pids, x.seen, time.Now(), x.poll) {
		// After a Rescue, new workers start the previous release: only
		// the ones started before are given up on.
		if !x.killed[p.PID] && (!x.rescued || x.seen[p.PID].Before(x.rescuedAt)) {
			give = append(give, p)
		}
	}
	if len(give) == 0 {
		return nil
	}
	p := give[0]
	if !x.rescued {
		if err := x.rescue(ctx); err != nil {
			return fmt.Errorf("worker %s of %q (pid %d) does not get ready and switching back failed: %w", p.Key(), p.Name, p.PID, err)
		}
	}
	if x.unready == nil {
		limit := unreadyAfter(p.ListenTimeout, x.poll)
		x.unready = fmt.Errorf("worker %s of %q (pid %d) did not listen within %s of its start (pm2 stops the old worker at listen_timeout %s, ready or not): current was switched back and the worker restarted on the previous release, which kept serving; does the app listen on HOSTNAME:PORT (see pm2 logs)? an app this slow to start needs a longer --listen-timeout",
			p.Key(), p.Name, p.PID, limit.Round(time.Second), orDefault(p.ListenTimeout))
	}
	return x.kill(ctx, give)
}

// pollFor is the pause between two looks when the caller sets none: an
// eighth of the shortest listen_timeout of the workers (pm2's default
// when they have none), from half a second to two. Each look is a
// program started on the host, on the cores the new workers start on;
// the app's listen_timeout is what a rescue must beat (unreadyAfter).
func pollFor(ps []Proc) time.Duration {
	listen := time.Duration(0)
	for _, p := range ps {
		if l := orDefault(p.ListenTimeout); listen == 0 || l < listen {
			listen = l
		}
	}
	return min(max(listen/8, 500*time.Millisecond), 2*time.Second)
}

// rescue calls Rescue once.
func (x *reloadWatch) rescue(ctx context.Context) error {
	x.rescued, x.rescuedAt = true, time.Now()
	return x.w.Rescue(ctx)
}

const killScript = `
kill -KILL "$@" 2>/dev/null || true
`

// kill ends workers that never got ready (they serve nothing): pm2
// restarts them from current.
func (x *reloadWatch) kill(ctx context.Context, ps []Proc) error {
	pids := make([]string, len(ps))
	for i, p := range ps {
		x.killed[p.PID] = true
		pids[i] = strconv.Itoa(p.PID)
	}
	_, err := x.r.run(ctx, x.h, "kill workers that never got ready", killScript, pids...)
	return err
}

func orDefault(listen time.Duration) time.Duration {
	if listen <= 0 {
		return defaultListenTimeout
	}
	return listen
}
