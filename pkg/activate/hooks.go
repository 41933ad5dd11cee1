package activate

import (
	"context"
	"fmt"
	"path"

	"github.com/org/next-deploy/pkg/hook"
	"github.com/org/next-deploy/pkg/release"
)

// Hooks run the user's commands of a rollout (next-deploy.yml hooks:).
// Options.Hooks nil runs none: rollback runs none, so a rollback works
// when a hook is what broke, and migrations never run backwards.
type Hooks interface {
	// BeforeActivate runs once per rollout, on the first host, in
	// release to (not yet current), once every host passed the
	// preflight (all locks held) and before the first switch. Its
	// failure stops the rollout with nothing switched.
	BeforeActivate(ctx context.Context, h Host, st *release.State, to, from string) error
	// AfterActivate runs on a host once it serves release to (after its
	// health gate). Its failure is the host's failure: the host goes
	// back as --on-failure says, as for a failed health check.
	AfterActivate(ctx context.Context, h Host, st *release.State, to, from string) error
}

// RemoteHooks are Hooks run on the hosts by package hook, in the app dir
// of the release (where server.js is, as the app's cwd): before_activate
// in releases/<to>/<app dir>, after_activate in current/<app dir>. A hook
// whose Run is empty is not run.
type RemoteHooks struct {
	Layout        release.Layout
	Before, After hook.Hook
	// Env is the environment of next-deploy.yml, for NEXT_DEPLOY_ENV.
	Env string
	// Out gets each line of a hook's output, "<host>: <hook>: <line>".
	Out func(line string)
}

var _ Hooks = (*RemoteHooks)(nil)

// BeforeActivate implements Hooks.
func (r *RemoteHooks) BeforeActivate(ctx context.Context, h Host, st *release.State, to, from string) error {
	if !r.Before.Set() {
		return nil
	}
	return r.run(ctx, h, path.Join(r.Layout.Root, release.ReleasesDir, to, appDir(st, to)), r.Before, to, from)
}

// AfterActivate implements Hooks.
func (r *RemoteHooks) AfterActivate(ctx context.Context, h Host, st *release.State, to, from string) error {
	if !r.After.Set() {
		return nil
	}
	return r.run(ctx, h, path.Join(r.Layout.Root, release.CurrentLink, appDir(st, to)), r.After, to, from)
}

func (r *RemoteHooks) run(ctx context.Context, h Host, dir string, hk hook.Hook, to, from string) error {
	out := r.Out
	if out == nil {
		out = func(string) {}
	}
	out(fmt.Sprintf("%s: %s: running in %s", h.Name(), hk.Name, dir))
	return hook.RunOn(ctx, h, dir, hk, hook.Vars{Release: to, Previous: from, Env: r.Env, Host: h.Name()}, out)
}

// appDir is where server.js is in release id, from its manifest.
func appDir(st *release.State, id string) string {
	if rel := st.Find(id); rel != nil && rel.Manifest != nil {
		return rel.Manifest.AppDir
	}
	return ""
}

// beforeActivate runs the hook of the same name on the first host, when
// some host is to switch (a run that finds every host on its target
// already activated it). Its failure is the first host's, and stops the
// rollout.
func beforeActivate[A any](ctx context.Context, plans []*plan[A], o Options) error {
	if o.Hooks == nil || len(plans) == 0 || !switches(plans) {
		return nil
	}
	p := plans[0]
	if err := o.Hooks.BeforeActivate(ctx, p.h, p.st, p.res.To, p.res.From); err != nil {
		p.res.Outcome, p.res.Err, p.res.Error = Failed, err, err.Error()
		return fmt.Errorf("%s %s stopped, no host was switched: %w", o.Action, p.res.To, err)
	}
	return nil
}

// afterActivate runs the hook of the same name on a host that serves
// its target.
func (r *roller[A]) afterActivate(ctx context.Context, p *plan[A]) error {
	if r.o.Hooks == nil {
		return nil
	}
	return r.o.Hooks.AfterActivate(ctx, p.h, p.st, p.res.To, p.res.From)
}

func switches[A any](plans []*plan[A]) bool {
	for _, p := range plans {
		if p.res.From != p.res.To {
			return true
		}
	}
	return false
}
