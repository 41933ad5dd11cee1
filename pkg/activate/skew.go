package activate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

// Skew protection (docs/skew.md): an activation keeps the release it
// replaces serving, as a kept pm2 app of its own on every host, for a
// window, so that a tab opened on it keeps working: nginx sends the
// requests that name it (X-Deployment-Id) to that app. The kept app is
// started before the switch (it is ready when current moves) and a host's
// kept apps are tidied after its reload: the one of the release now
// current, the stopped ones and those past their window go, and never
// more than Keep run. A rollback starts none: the release it leaves is
// marked, never served again. Nothing here fails a rollout: an old
// release that cannot be kept serving is a warning.

// Skew tunes skew protection.
type Skew struct {
	// Window is how long the replaced release keeps serving; 0 starts no
	// kept app (the ones running keep their own window).
	Window time.Duration
	// Keep bounds the kept apps per host (default 1).
	Keep int
	// Instances is a kept app's number of workers (default 1).
	Instances int
	// App names the ecosystem's Next app (the only app when there is one).
	App string
	// Warn gets what kept an old release from serving on a host.
	Warn func(host string, err error)
	// Progress, when set, gets a line per kept app started or ended.
	Progress func(host, format string, a ...any)
	// Clock is when windows start (default: the wall clock).
	Clock clock.Clock
}

// MaxSkewWindow bounds --skew-window: a kept app costs memory, and its
// timer must fit the preload's.
const MaxSkewWindow = 24 * time.Hour

// Check reports a bad setting.
func (s Skew) Check() error {
	var errs []error
	if s.Window < 0 || s.Window > MaxSkewWindow {
		errs = append(errs, fmt.Errorf("skew window %s: want 0 (off) to %s", clock.Format(s.Window), clock.Format(MaxSkewWindow)))
	}
	if s.Keep < 1 {
		errs = append(errs, fmt.Errorf("skew keep %d: want 1 or more", s.Keep))
	}
	if s.Instances < 1 {
		errs = append(errs, fmt.Errorf("skew instances %d: want 1 or more", s.Instances))
	}
	return errors.Join(errs...)
}

// Skewed is Real with skew protection: Ops for Run.
type Skewed struct {
	*Real
	Skew Skew
	// Action is the rollout's (ActionActivate starts kept apps).
	Action string
}

var (
	_ Ops[*SkewApp]     = (*Skewed)(nil)
	_ Watcher[*SkewApp] = (*Skewed)(nil)
	_ Settler[*SkewApp] = (*Skewed)(nil)
)

// SkewApp is App with the switch it prepares.
type SkewApp struct {
	*App
	from, to string
}

// Inspect implements Ops.
func (s *Skewed) Inspect(ctx context.Context, h Host, st *release.State, to string) (*SkewApp, error) {
	a, err := s.Real.Inspect(ctx, h, st, to)
	if err != nil {
		return nil, err
	}
	return &SkewApp{App: a, from: st.Current, to: to}, nil
}

// Prepare implements Ops: Real's, then the release being replaced kept
// serving, before the switch.
func (s *Skewed) Prepare(ctx context.Context, h Host, a *SkewApp) error {
	if err := s.Real.Prepare(ctx, h, a.App); err != nil {
		return err
	}
	if s.Action == ActionActivate && s.Skew.Window > 0 && a.from != "" && a.from != a.to {
		if err := s.keep(ctx, h, a); err != nil {
			s.warn(h, fmt.Errorf("tabs opened on %s will reload at their next navigation, and lose a Server Action: %w", a.from, err))
		}
	}
	return nil
}

// Reload implements Ops: Real's, then the host's kept apps tidied.
func (s *Skewed) Reload(ctx context.Context, h Host, a *SkewApp, to, from string) error {
	if err := s.Real.Reload(ctx, h, a.App, to, from); err != nil {
		return err
	}
	if err := s.tidy(ctx, h, a, to); err != nil {
		s.warn(h, err)
	}
	return nil
}

// Check implements Ops: Real's.
func (s *Skewed) Check(ctx context.Context, h Host, a *SkewApp, id string) error {
	return s.Real.Check(ctx, h, a.App, id)
}

// Restore implements Ops: Real's.
func (s *Skewed) Restore(ctx context.Context, h Host, a *SkewApp, to string) error {
	return s.Real.Restore(ctx, h, a.App, to)
}

// OldStatic implements Ops: Real's.
func (s *Skewed) OldStatic(ctx context.Context, h Host, a *SkewApp, old string) *nginx.Static {
	return s.Real.OldStatic(ctx, h, a.App, old)
}

// Settle implements Settler: Real's (the pm2 save behind the rollout).
// Without it Run would not wait for the save, and the command could end
// before pm2 wrote its process list (TestLocalActivateLeavesNoSecret
// found that).
func (s *Skewed) Settle(ctx context.Context, h Host, a *SkewApp) error {
	if a == nil {
		return s.Real.Settle(ctx, h, nil)
	}
	return s.Real.Settle(ctx, h, a.App)
}

// Tally implements Watcher (a canary's counts): Real's.
func (s *Skewed) Tally(ctx context.Context, h Host, a *SkewApp) (Tally, error) {
	return s.Real.Tally(ctx, h, a.App)
}

// keep starts (or renews) the kept app of a.from, first ending the oldest
// others beyond Keep.
func (s *Skewed) keep(ctx context.Context, h Host, a *SkewApp) error {
	site := a.site
	app, err := site.SkewApp(s.Skew.App)
	if err != nil {
		return err
	}
	ps, err := s.PM2.Status(ctx, h)
	if err != nil {
		return err
	}
	var others []pm2.Kept
	for _, k := range site.KeptApps(ps, app.Name) {
		if k.Release != a.from && k.Release != a.to {
			others = append(others, k)
		}
	}
	for _, k := range overKeep(others, s.Skew.Keep-1) {
		s.progress(h, "ending %s: more than --skew-keep %d kept releases", k.Name, s.Skew.Keep)
		if err := s.PM2.EndKept(ctx, h, k); err != nil {
			return err
		}
	}
	until := clock.Or(s.Skew.Clock).Now().Add(s.Skew.Window)
	s.progress(h, "keeping %s serving its open tabs until %s (%s)", a.from, until.UTC().Format(time.TimeOnly), pm2.SkewName(app.Name, a.from))
	return s.PM2.StartKept(ctx, h, site, pm2.Keep{App: app, Release: a.from, Until: until, Instances: s.Skew.Instances})
}

// tidy ends the kept apps the host no longer needs once current serves
// to: to's own, the stopped ones (their window ended), those past their
// window, those beyond Keep; then the directories of kept apps that died
// without removing theirs.
func (s *Skewed) tidy(ctx context.Context, h Host, a *SkewApp, to string) error {
	ps, err := s.PM2.Status(ctx, h)
	if err != nil {
		return err
	}
	now := clock.Or(s.Skew.Clock).Now()
	var live []string
	var errs []error
	ended := false
	for _, app := range a.site.Apps {
		end, stay := planTidy(a.site.KeptApps(ps, app.Name), to, now, s.Skew.Keep)
		for _, k := range end {
			ended = true
			if k.Online > 0 {
				s.progress(h, "ending %s", k.Name)
			}
			if err := s.PM2.EndKept(ctx, h, k); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range stay {
			live = append(live, k.Release)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, s.PM2.CleanSockets(ctx, h, live))
	}
	if ended && len(errs) == 0 {
		// Real.Reload saved the list before: a reboot must not bring
		// back what went.
		errs = append(errs, s.PM2.Save(ctx, h))
	}
	return errors.Join(errs...)
}

// planTidy splits kept apps (oldest window end first) into those to end
// and those that stay, once current serves to.
func planTidy(kept []pm2.Kept, to string, now time.Time, keep int) (end, stay []pm2.Kept) {
	for _, k := range kept {
		if k.Release == to || k.Online == 0 || (!k.Until.IsZero() && !k.Until.After(now)) {
			end = append(end, k)
		} else {
			stay = append(stay, k)
		}
	}
	over := overKeep(stay, keep)
	return append(end, over...), stay[len(over):]
}

// overKeep are the oldest of kept (oldest first) beyond the newest n.
func overKeep(kept []pm2.Kept, n int) []pm2.Kept {
	if n < 0 {
		n = 0
	}
	if len(kept) <= n {
		return nil
	}
	return kept[:len(kept)-n]
}

func (s *Skewed) warn(h Host, err error) {
	if s.Skew.Warn != nil {
		s.Skew.Warn(h.Name(), fmt.Errorf("skew protection: %w", err))
	}
}

func (s *Skewed) progress(h Host, format string, a ...any) {
	if s.Skew.Progress != nil {
		s.Skew.Progress(h.Name(), format, a...)
	}
}
