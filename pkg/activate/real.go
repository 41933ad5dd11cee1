package activate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

// Real is Ops on real hosts: release for the layout, pm2 for the workers,
// health for the gate, nginx for the check of old static files.
type Real struct {
	Layout release.Layout
	PM2    pm2.Runner
	// Ecosystem is the config the flags describe (see EcosystemFor): the
	// ecosystem written to a host that has none. Given reports which of
	// its settings the user chose, by flag name (pm2.Settings): only those
	// change, or are checked against, an existing ecosystem (ecosystem.go).
	Ecosystem pm2.Config
	Given     func(flag string) bool
	// FixPinned replaces an app pinned to a release without downtime;
	// when false such an app is refused.
	FixPinned bool
	// HealthURL may hold {host}; "" asks the app where the host's
	// ecosystem has it listen. HealthTimeout bounds one check.
	HealthURL     string
	HealthTimeout time.Duration
	// Front is where browsers reach a host (its nginx), may hold {host};
	// after a switch, a static file of the release left is fetched there
	// (OldStatic). "" skips the check.
	Front string
	// Note, when set, gets what activate changed on a host besides the
	// switch (an ecosystem written, rewritten or put back).
	Note func(host, format string, a ...any)
	// Poll is the pause between two looks at the workers during a reload.
	Poll time.Duration
	// Clock times the pauses between two deletes of a crash-looping app
	// (nil: the wall clock).
	Clock clock.Clock
	// Lock holder, and the age after which a stale lock is broken (0: never).
	Who, Run       string
	PID            int
	BreakLockAfter time.Duration

	early earlyLookers // started by Lock, taken by Inspect
}

var (
	_ Ops[*App]     = (*Real)(nil)
	_ Settler[*App] = (*Real)(nil)
)

// App is what Real.Inspect learned about one host's app side, and what
// Prepare did to it.
type App struct {
	site *pm2.Site
	st   *release.State
	eco  *ecoChange // to write; nil: the ecosystem stays as it is
	// wrote: Prepare wrote eco (Restore puts it back).
	wrote bool
	// healthURL is where the app listens, per the ecosystem it runs from.
	healthURL string
	pinned    []string
	// stale are apps to delete once the old release serves again (a
	// rename undone by Restore).
	stale []string
	// before waits for the process list Prepare took, Reload's
	// baseline; looker is the watch's and the proof's way to look.
	before func() ([]pm2.Proc, error)
	looker *pm2.Looker
	// saving waits for the pm2 save Reload started (Settle).
	saving func() (struct{}, error)
}

// closeLooker ends the looker Inspect or Prepare started, once its
// looks are taken.
func (a *App) closeLooker() {
	if a.looker != nil {
		if a.before != nil {
			_, _ = a.before() // one look at a time
			a.before = nil
		}
		a.looker.Close()
		a.looker = nil
	}
}

// EcosystemFor is cfg for one host: {host} in the hostname stands for
// the host's address, and the app is in appDir of the release.
func EcosystemFor(cfg pm2.Config, addr, appDir string) pm2.Config {
	cfg.AppDir = appDir
	cfg.Hostname = strings.ReplaceAll(cfg.Hostname, health.HostPlaceholder, addr)
	return cfg
}

// State implements Ops.
func (r *Real) State(ctx context.Context, h Host) (*release.State, error) {
	return r.Layout.State(ctx, h)
}

// Lock implements Ops.
func (r *Real) Lock(ctx context.Context, h Host) (Unlocker, error) {
	k, err := r.Layout.Acquire(ctx, h, r.Who, r.Run, r.PID, r.BreakLockAfter)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	r.early.start(ctx, r.PM2, h) // for Inspect, while the state is read
	return k, nil
}

// Inspect implements Ops: pm2 and node are there, the ecosystem (or the
// one we would write) follows current in cluster mode and agrees with the
// flags given (ecosystem.go), and no app of it runs from elsewhere; a
// pinned app is noted for Prepare, or refused.
func (r *Real) Inspect(ctx context.Context, h Host, st *release.State, to string) (*App, error) {
	// The process list is read while the ecosystem is: two sessions on
	// the host's one connection, one wait instead of two. It is the
	// first look of the looker the host's reload uses (Prepare): its
	// program is started by Lock, once, with every host's, instead of
	// in each batch's critical path (issue 15 item 3).
	looker := r.early.take(ctx, r.PM2, h)
	list := async(func() ([]pm2.Proc, error) { return looker.Look(ctx) })
	site, err := r.PM2.Inspect(ctx, h)
	ps, psErr := list()
	a := &App{site: site, st: st, looker: looker}
	if err == nil {
		err = r.inspect(ctx, h, a, to, ps, psErr)
	}
	if err != nil {
		looker.Close()
		return nil, err
	}
	return a, nil
}

// inspect is Inspect's decision on a, once its ecosystem and the process
// list (ps, psErr) are read.
func (r *Real) inspect(ctx context.Context, h Host, a *App, to string, ps []pm2.Proc, psErr error) (err error) {
	site := a.site
	if err := r.decide(ctx, h, a, to); err != nil {
		return err
	}
	if site.Apps == nil {
		return nil
	}
	if err := site.CheckApps(); err != nil {
		return fmt.Errorf("ecosystem %s/%s: %w", site.Root, r.PM2.Ecosystem, err)
	}
	if psErr != nil {
		return psErr
	}
	a.pinned, err = r.pinned(a.eco.site(site), ps)
	return err
}

// async runs fn in the background; the function it returns waits for
// fn's answer.
func async[T any](fn func() (T, error)) func() (T, error) {
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := fn()
		ch <- answer{v, err}
	}()
	return func() (T, error) {
		a := <-ch
		return a.v, a.err
	}
}

// pinned lists the apps of site that ps runs pinned to a release, to
// replace, refusing them without FixPinned.
func (r *Real) pinned(site *pm2.Site, ps []pm2.Proc) ([]string, error) {
	names, err := site.Pinned(ps)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 && !r.FixPinned {
		return nil, fmt.Errorf("pm2 app %q is pinned to a release (its paths were resolved at start): a reload would keep serving that release; let activate replace it (--fix-pinned), or once: cd %s && pm2 delete %s && pm2 start %s", names[0], site.Root, names[0], r.PM2.Ecosystem)
	}
	return names, nil
}

// Prepare implements Ops: next-deploy's files (the drain preload, and the
// ecosystem Inspect decided on), then pinned apps replaced on the
// release they run, before anything is switched.
func (r *Real) Prepare(ctx context.Context, h Host, a *App) error {
	// The workers before the reload (its baseline) are listed while the
	// files are written, by the looker the reload's watch and proof use
	// (started by Inspect; a look is a question to pm2's daemon); the
	// list stands unless pm2 is changed here.
	if a.before != nil {
		_, _ = a.before() // one look at a time
		a.before = nil
	}
	if a.looker == nil {
		a.looker = r.PM2.Looker(ctx, h)
	}
	looker := a.looker
	before := async(func() ([]pm2.Proc, error) { return looker.Look(ctx) })
	wrote, err := r.write(ctx, h, a)
	if err != nil {
		return err
	}
	a.wrote = wrote
	if !wrote && len(a.pinned) == 0 {
		a.before = before
		return nil
	}
	_, _ = before() // one look at a time
	if wrote {
		if a.site, err = r.PM2.Inspect(ctx, h); err != nil {
			return err
		}
		if err := a.site.CheckApps(); err != nil {
			return fmt.Errorf("the ecosystem written to %s: %w", r.PM2.Ecosystem, err)
		}
		// An app of that name may run already, started by hand.
		ps, err := r.PM2.Status(ctx, h)
		if err != nil {
			return err
		}
		if a.pinned, err = r.pinned(a.site, ps); err != nil {
			return err
		}
	}
	for _, name := range a.pinned {
		if err := r.PM2.Migrate(ctx, h, a.site, name); err != nil {
			return err
		}
	}
	a.pinned = nil
	return nil
}

// Record implements Ops.
func (r *Real) Record(ctx context.Context, h Host, e release.Entry) error {
	return r.Layout.Record(ctx, h, e)
}

// Switch implements Ops.
func (r *Real) Switch(ctx context.Context, h Host, id string) error {
	return r.Layout.Switch(ctx, h, id)
}

// Reload implements Ops: the watched pm2 reload (current switched back to
// from when to crash-loops), then proof from the kernel that every worker
// runs release to; the process list is saved once the reload is done
// (by the looker, or pm2 save, which the rollout does not wait for:
// Settle does).
func (r *Real) Reload(ctx context.Context, h Host, a *App, to, from string) error {
	// A host going back may still be saving what its first reload left.
	_ = a.saved() // superseded by the save of this reload
	w := pm2.Watch{Poll: r.Poll}
	if a.before != nil {
		if ps, err := a.before(); err == nil {
			w.Before = ps
		}
		a.before = nil // once: a host going back lists them again
	}
	if a.looker != nil {
		w.Look = a.looker.Look
		defer a.closeLooker() // once: the proof below is its last look
	}
	if from != "" && from != to {
		w.Rescue = func(ctx context.Context) error { return r.Layout.Switch(ctx, h, from) }
	}
	rescued, err := r.PM2.Reload(ctx, h, a.site, w)
	if err != nil {
		return err
	}
	save := func() {
		// The looker saves over the daemon connection it holds, in
		// milliseconds; pm2 save (a CLI start, seconds of CPU on a busy
		// host) only where it cannot, behind the rollout.
		if a.looker != nil && a.looker.Save(ctx) {
			a.saving = nil
			return
		}
		a.saving = async(func() (struct{}, error) { return struct{}{}, r.PM2.Save(ctx, h) })
	}
	if len(a.stale) == 0 {
		// Saved while the workers are checked: what pm2 saves is the
		// apps, whatever release they run; a host that fails the check
		// goes back, and is reloaded and saved again.
		save()
	}
	if err := r.verify(ctx, h, a, to, from, rescued); err != nil {
		return err
	}
	if len(a.stale) > 0 {
		// The app of the name put back goes first: it is not saved.
		if err := r.deleteApps(ctx, h, a.site, a.stale); err != nil {
			return fmt.Errorf("delete the app of the name put back: %w", err)
		}
		a.stale = nil
		save()
	}
	return nil
}

// Settle implements Settler: it waits for the pm2 save the last Reload
// started (and ends a looker left by a host that never reloaded, or
// never inspected).
func (r *Real) Settle(_ context.Context, h Host, a *App) error {
	r.early.drop(h) // started by Lock for an Inspect that never ran
	if a == nil {
		return nil
	}
	a.closeLooker()
	return a.saved()
}

// saved waits for the pm2 save the last Reload started, if any.
func (a *App) saved() error {
	if a.saving == nil {
		return nil
	}
	_, err := a.saving()
	a.saving = nil
	return err
}

// verify is the proof from the kernel that every worker runs release to.
func (r *Real) verify(ctx context.Context, h Host, a *App, to, from string, rescued bool) error {
	look := func(ctx context.Context) ([]pm2.Proc, error) { return r.PM2.Status(ctx, h) }
	if a.looker != nil {
		look = a.looker.Look
	}
	ps, err := look(ctx)
	if err != nil {
		return err
	}
	if err := a.site.Verify(ps, to); err != nil {
		if rescued {
			return fmt.Errorf("release %s crash-loops at start: current was switched back to %s while the old workers still served (see pm2 logs): %w", to, from, err)
		}
		return fmt.Errorf("the workers do not run %s after the reload: %w", to, err)
	}
	return nil
}

// Check implements Ops: --health-url, or where the host's ecosystem has
// the app listen.
func (r *Real) Check(ctx context.Context, h Host, a *App, id string) error {
	u := a.healthURL
	if r.HealthURL != "" {
		var err error
		if u, err = h.healthURL(r.HealthURL, r.Ecosystem); err != nil {
			return err
		}
	}
	_, err := health.Check(ctx, h.DialTCP, health.Gate{URL: u, Release: id, Timeout: r.HealthTimeout})
	return err
}

// OldStatic implements Ops: a static file of release old, fetched through
// the host's front (Front), tells whether browsers still holding a page
// of old get their chunks. nil when not checked (no Front, no static file
// in old, or it could not be listed).
func (r *Real) OldStatic(ctx context.Context, h Host, a *App, old string) *nginx.Static {
	if r.Front == "" {
		return nil
	}
	front, err := health.Expand(r.Front, h.Addr())
	if err != nil {
		return nil
	}
	s, err := nginx.CheckStatic(ctx, h, r.Layout.Root, front, old, appDirOf(a.st, old))
	if err != nil {
		r.note(h, "could not check the static files of %s: %v", old, err)
		return nil
	}
	return s
}
