package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/hook"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
)

// deployHooks are the hooks of next-deploy.yml around one activate: the
// runner's pre_deploy before any host is reached, post_deploy after the
// rollout whatever its result, and the hosts' before_activate and
// after_activate inside it (activate.RemoteHooks). Rollback runs none. A
// nil *deployHooks runs nothing.
type deployHooks struct {
	env       *cli.Env
	pre, post hook.Hook
	remote    *activate.RemoteHooks
	dir       string // the runner's hooks run in the file's folder
	vars      hook.Vars
	start     time.Time
}

// newDeployHooks reads the hooks of the file for an activation of
// release id to targets; nil when the file sets none, or id is ""
// (rollback).
func newDeployHooks(env *cli.Env, id string, layout release.Layout, targets []inventory.Target) *deployHooks {
	f := env.Config()
	if f == nil || id == "" {
		return nil
	}
	h := f.Hooks
	d := &deployHooks{
		env:  env,
		pre:  toHook("pre_deploy", h.PreDeploy),
		post: toHook("post_deploy", h.PostDeploy),
		dir:  filepath.Dir(f.File),
		vars: hook.Vars{Release: id, Env: f.Env, Actor: cmp.Or(env.Getenv("GITHUB_ACTOR"), whoAmI())},
	}
	for _, t := range targets {
		d.vars.Hosts = append(d.vars.Hosts, t.String())
	}
	before, after := toHook("before_activate", h.BeforeActivate), toHook("after_activate", h.AfterActivate)
	if before.Set() || after.Set() {
		d.remote = &activate.RemoteHooks{Layout: layout, Before: before, After: after, Env: f.Env, Out: d.out}
	}
	if !d.pre.Set() && !d.post.Set() && d.remote == nil {
		return nil
	}
	return d
}

func toHook(name string, h config.Hook) hook.Hook {
	return hook.Hook{Name: name, Run: h.Run, Timeout: cmp.Or(h.Timeout, config.DefaultHookTimeout)}
}

func (d *deployHooks) out(line string) { d.env.Progressf("%s", line) }

// hosts are the hooks activate runs on the hosts.
func (d *deployHooks) hosts() activate.Hooks {
	if d == nil || d.remote == nil {
		return nil // not a typed nil in the interface
	}
	return d.remote
}

// preDeploy runs pre_deploy; its failure stops the deploy before any
// host is reached (and post_deploy does not run: nothing started).
func (d *deployHooks) preDeploy(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.start = time.Now()
	if !d.pre.Set() {
		return nil
	}
	if err := hook.RunLocal(ctx, d.dir, hookEnviron(os.Environ()), d.pre, d.vars, d.out); err != nil {
		return fmt.Errorf("activate %s stopped before any host was reached: %w", d.vars.Release, err)
	}
	return nil
}

// postDeploy runs post_deploy with the deploy's result, err (nil: ok),
// even when the run was interrupted; it returns err, with post_deploy's
// failure added.
func (d *deployHooks) postDeploy(ctx context.Context, rep *activate.Report, err error) error {
	if d == nil || !d.post.Set() {
		return err
	}
	v := d.vars
	v.Result, v.Duration = hook.ResultOK, time.Since(d.start)
	if err != nil {
		v.Result = hook.ResultFailed
	}
	if rep != nil {
		for _, h := range rep.Hosts {
			if h.From != "" && h.From != h.To {
				v.Previous = h.From
				break
			}
		}
	}
	perr := hook.RunLocal(context.WithoutCancel(ctx), d.dir, hookEnviron(os.Environ()), d.post, v, d.out)
	switch {
	case perr == nil:
		return err
	case err == nil:
		return fmt.Errorf("activate %s is done, but %w", v.Release, perr)
	}
	return errors.Join(err, perr)
}

// hookEnviron is the runner's environment for its hooks: the secrets
// next-deploy reads are left out (internal/cli unsets those it read; this
// covers the others too). A hook that needs a token gets it under a name
// of its own (env: in the workflow).
func hookEnviron(environ []string) []string {
	drop := map[string]bool{}
	for flag, v := range cli.SecretFlags {
		drop[v] = true
		drop["INPUT_"+strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))] = true
	}
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}
