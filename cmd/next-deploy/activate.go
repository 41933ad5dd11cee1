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
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

type activateCmd struct {
	rollout rolloutFlags
	release cli.ReleaseFlag
}

func (*activateCmd) Name() string { return "activate" }
func (*activateCmd) Synopsis() string {
	return "switch hosts to a delivered release, a batch at a time, reloading pm2 and health-gated"
}

func (c *activateCmd) SetFlags(fs *flag.FlagSet) {
	c.release.Register(fs, "release id to activate")
	c.rollout.register(fs)
	c.rollout.canary.register(fs)
	fs.DurationVar(&c.rollout.watch, "watch", 0, "after the switch, sample every worker's heap for this long (10s to 1h) and report its growth per minute and restarts; warns when it looks like a leak, not warm-up (0: off)")
}

func (c *activateCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	id, err := c.release.ID(env, true)
	errs := []error{err}
	choose := func(*release.State) (string, error) { return id, nil }
	return c.rollout.run(ctx, env, args, activate.ActionActivate, choose, errs)
}

// rolloutFlags are the flags of activate and rollback.
type rolloutFlags struct {
	conn           connFlags
	pm2Env         string
	ecosystem      string
	app            pm2Flags
	healthURL      string
	healthTimeout  time.Duration
	batch          string
	share          fleet.Share // batch, parsed by check
	pause          time.Duration
	onFailure      string
	fixPinned      bool
	breakLockAfter time.Duration
	// watch and canary are activate's (rollback has none).
	watch  time.Duration
	canary canaryFlags
}

func (r *rolloutFlags) register(fs *flag.FlagSet) {
	r.conn.register(fs)
	fs.StringVar(&r.pm2Env, "pm2-env", "production", "pm2 environment: pm2 reload <ecosystem> --env <this> (the env_<name> block)")
	fs.StringVar(&r.ecosystem, "ecosystem", pm2.DefaultEcosystem, "pm2 ecosystem file on the host, relative to --path; written from config pm2 (the flags below) when a host has none")
	r.app.register(fs, false)
	fs.StringVar(&r.healthURL, "health-url", health.DefaultURL, "URL requested from each host's side through the SSH connection; {host} stands for the host's address as given in --hosts")
	fs.DurationVar(&r.healthTimeout, "health-timeout", time.Minute, "how long the health check of one host may retry")
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
	if _, err := health.Expand(r.healthURL, "127.0.0.1"); err != nil {
		errs = append(errs, fmt.Errorf("--health-url: %w", err))
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
		errs = append(errs, fmt.Errorf("--watch %s: want 0 (off) or %s to %s", clock.Format(r.watch), clock.Format(minWatch), clock.Format(maxWatch)))
	}
	mode, err := r.check(errs)
	f, cerr := r.conn.open(env)
	if err != nil || cerr != nil {
		return cli.Usage(errors.Join(err, cerr))
	}
	defer f.close()
	hosts, err := activate.Connect(ctx, f.pool, f.targets, f.parallel)
	if err != nil {
		return err
	}
	who := whoAmI()
	run := runURL(env)
	ops := &activate.Real{
		Layout: f.layout, PM2: pm2.Runner{Root: f.layout.Root, Ecosystem: r.ecosystem, Env: r.pm2Env},
		Ecosystem: r.ecosystemConfig(f.layout.Root), FixPinned: r.fixPinned,
		HealthURL: r.healthURL, HealthTimeout: r.healthTimeout,
		Who: who, Run: run, PID: os.Getpid(), BreakLockAfter: r.breakLockAfter,
	}
	rep := activate.Run(ctx, ops, hosts, choose, activate.Options{
		Action: action, Batch: r.share.Of(len(hosts)), Canary: r.canary.options(), Pause: r.pause, OnFailure: mode, Parallel: f.parallel,
		Who: who, Run: run,
		Progress: func(host, format string, a ...any) { env.Progressf("%s: "+format, append([]any{host}, a...)...) },
	})
	var mem *memoryWatch
	if r.watch > 0 && rep.Err == nil {
		mem = watchMemory(ctx, env, ops.PM2, f, r.watch)
	}
	if err := r.report(env, rep, mem, f.layout.Root); err != nil {
		return err
	}
	return rep.Err
}

// ecosystemConfig is the ecosystem the flags describe, for a host that
// has none: {host} in --hostname stands for the host's address.
func (r *rolloutFlags) ecosystemConfig(root string) pm2.Config {
	return r.app.config(root, "", []string{cmp.Or(r.pm2Env, "production")})
}

func (r *rolloutFlags) report(env *cli.Env, rep *activate.Report, mem *memoryWatch, root string) error {
	t := &cli.Table{Title: rep.Action, Header: []string{"host", "from", "to", "result", "current", "time", "error"}}
	var on []string
	for _, h := range rep.Hosts {
		t.Add(h.Host, orDash(h.From), orDash(h.To), string(h.Outcome), orDash(h.Current),
			fmt.Sprintf("%.1fs", h.Seconds), firstLine(h.Error))
		if h.Outcome == activate.Switched || h.Outcome == activate.Unchanged {
			on = append(on, h.Host)
		}
	}
	env.SetOutput("hosts", strings.Join(on, ","))
	if len(rep.Hosts) > 0 {
		env.SetOutput("release", rep.Hosts[0].To)
	}
	result := "done"
	if rep.Err != nil {
		result = "failed"
	}
	env.SetOutput("result", result)
	out := struct {
		*activate.Report
		Error  string       `json:"error,omitempty"`
		Memory *memoryWatch `json:"memory,omitempty"`
	}{Report: rep, Memory: mem}
	if rep.Err != nil {
		out.Error = rep.Err.Error()
	}
	var mt *cli.Table
	if mem != nil {
		mt = mem.table(env, root)
	}
	return env.Report(out, t, mt)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
