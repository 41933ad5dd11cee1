package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

// rolloutFlags are the flags of activate and rollback.
type rolloutFlags struct {
	conn           connFlags
	pm2Env         string
	ecosystem      string
	app            pm2Flags
	healthURL      string
	healthTimeout  time.Duration
	front          string
	batch          string
	share          fleet.Share // batch, parsed by check
	pause          time.Duration
	onFailure      string
	fixPinned      bool
	breakLockAfter time.Duration
	// watch is activate --watch (rollback has none).
	watch    time.Duration
	hooksFor string // activate's release, whose hooks run (hooks.go); rollback runs none
	skew     skewFlags
	canary   canaryFlags // activate's
}

func (r *rolloutFlags) register(fs *flag.FlagSet) {
	r.conn.register(fs)
	fs.StringVar(&r.pm2Env, "pm2-env", "production", "pm2 environment: pm2 reload <ecosystem> --env <this> (the env_<name> block)")
	fs.StringVar(&r.ecosystem, "ecosystem", pm2.DefaultEcosystem, "pm2 ecosystem file on the host, relative to --path; written from config pm2 (the flags below) when a host has none, rewritten when next-deploy wrote it and a flag below given asks for another value; a hand-written one is never rewritten, and a flag given that differs from it refuses the run")
	r.app.register(fs, false)
	fs.StringVar(&r.healthURL, "health-url", "", "URL requested from each host's side through the SSH connection; {host} stands for the host's address as given in --hosts (default: the app's page where the host's ecosystem has it listen, http://HOSTNAME:PORT/)")
	fs.DurationVar(&r.healthTimeout, "health-timeout", time.Minute, "how long the health check of one host may retry")
	fs.StringVar(&r.front, "front", nginx.DefaultFront, "where browsers reach a host (its nginx), as seen from the host; {host} stands for its address: after the switch a static file of the release left is fetched there, and a warning says when old pages would lose their chunks; \"\" skips the check")
	fs.StringVar(&r.batch, "batch", "1", "hosts switched at once: a number, or a share of the hosts like 25% (rounded up)")
	fs.DurationVar(&r.pause, "pause", 0, "wait between two batches")
	fs.StringVar(&r.onFailure, "on-failure", string(activate.RollbackAll), "when a host fails (it goes back): rollback-all (every host switched goes back), rollback-host (only the failed one), stop (leave even the failed host as it is)")
	fs.BoolVar(&r.fixPinned, "fix-pinned", true, "replace, without downtime, a pm2 app pinned to a release (started with resolved paths); false refuses it")
	fs.DurationVar(&r.breakLockAfter, "break-lock-after", 0, "break a deploy lock older than this (a dead deploy's); 0 never")
	cli.JSONFlag(fs)
}

// check reports every bad flag at once, with errs found by the caller.
func (r *rolloutFlags) check(errs []error) (activate.Mode, error) {
	mode, err := activate.ParseMode(r.onFailure)
	if err != nil {
		errs = append(errs, fmt.Errorf("--on-failure: %w", err))
	}
	if err := pm2.CheckEcosystemPath(r.ecosystem); err != nil {
		errs = append(errs, fmt.Errorf("--ecosystem: %w", err))
	}
	for _, u := range []struct{ flag, url string }{{"health-url", r.healthURL}, {"front", r.front}} {
		if _, err := health.Expand(u.url, "127.0.0.1"); u.url != "" && err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", u.flag, err))
		}
	}
	if r.healthTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--health-timeout %s: want more than 0", clock.Format(r.healthTimeout)))
	}
	if r.share, err = fleet.ParseShare(r.batch); err != nil {
		errs = append(errs, fmt.Errorf("--batch %w", err))
	}
	errs = r.canary.check(errs)
	if r.pm2Env != "" && release.ValidID(r.pm2Env) != nil {
		errs = append(errs, fmt.Errorf("--pm2-env %q: want letters, digits, '.', '_', '-'", r.pm2Env))
	}
	if err := activate.EcosystemFor(r.ecosystemConfig("/app"), "127.0.0.1", "").Validate(); err != nil {
		errs = append(errs, fmt.Errorf("ecosystem flags: %w", err))
	}
	return mode, errors.Join(errs...)
}

// run is activate and rollback: check every input, connect to every host,
// roll, report.
func (r *rolloutFlags) run(ctx context.Context, env *cli.Env, args []string, action string, choose activate.Choose, errs []error) error {
	if r.watch != 0 && (r.watch < minWatch || r.watch > maxWatch) {
		errs = append(errs, fmt.Errorf("--watch %s: want 0 (off) or %s to %s (a worker's heap is judged once it is %s old: a shorter watch judges none of the workers the switch starts)", clock.Format(r.watch), clock.Format(minWatch), clock.Format(maxWatch), clock.Format(minWatch)))
	}
	mode, err := r.check(append(errs, r.skew.check()))
	f, cerr := r.conn.open(env)
	if err != nil || cerr != nil {
		return cli.Usage(errors.Join(err, cerr))
	}
	defer f.close()
	hooks := newDeployHooks(env, r.hooksFor, f.layout, f.targets)
	if err := hooks.preDeploy(ctx); err != nil {
		return err
	}
	hosts, err := activate.Connect(ctx, f.pool, f.targets, f.parallel)
	if err != nil {
		return hooks.postDeploy(ctx, nil, err)
	}
	who := whoAmI()
	run := runURL(env)
	progress := func(host, format string, a ...any) { env.Progressf("%s: "+format, append([]any{host}, a...)...) }
	given := r.app.given()
	ops := &activate.Real{
		Layout: f.layout, PM2: pm2.Runner{Root: f.layout.Root, Ecosystem: r.ecosystem, Env: r.pm2Env},
		Ecosystem: r.ecosystemConfig(f.layout.Root), Given: func(flag string) bool { return given[flag] },
		FixPinned: r.fixPinned, HealthURL: r.healthURL, HealthTimeout: r.healthTimeout, Front: r.front, Note: progress,
		Who: who, Run: run, PID: os.Getpid(), BreakLockAfter: r.breakLockAfter,
	}
	skewed := &activate.Skewed{Real: ops, Skew: r.skew.options(env, r.app.name), Action: action}
	rep := activate.Run(ctx, skewed, hosts, choose, activate.Options{
		Action: action, Batch: r.share.Of(len(hosts)), Canary: r.canary.options(), Pause: r.pause, OnFailure: mode, Parallel: f.parallel,
		Who: who, Run: run, Progress: progress, Hooks: hooks.hosts(),
	})
	warnOldStatic(env, rep, f.layout.Root)
	var mem *memoryWatch
	if r.watch > 0 && rep.Err == nil {
		mem = watchMemory(ctx, env, ops.PM2, f, r.watch)
	}
	if err := r.report(env, rep, mem, f.layout.Root); err != nil {
		return hooks.postDeploy(ctx, rep, err)
	}
	return hooks.postDeploy(ctx, rep, rep.Err)
}

// ecosystemConfig is the ecosystem the flags describe, for a host that
// has none: {host} in --hostname stands for the host's address.
func (r *rolloutFlags) ecosystemConfig(root string) pm2.Config {
	return r.app.config(root, "", []string{cmp.Or(r.pm2Env, "production")})
}

// warnOldStatic warns once about the hosts whose front did not serve the
// static files of the release they left.
func warnOldStatic(env *cli.Env, rep *activate.Report, root string) {
	var bad []string
	for _, h := range rep.Hosts {
		if s := h.OldStatic; s != nil && !s.Served {
			bad = append(bad, h.Host+" ("+s.Problem()+")")
		}
	}
	if len(bad) > 0 {
		env.Warnf("old releases' static files are not served on %s: a browser still on a page of the release just left gets 404 for its chunks; %s",
			strings.Join(bad, ", "), nginx.Fix(root))
	}
}
