package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/barrier"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/ghapi"
	"github.com/org/next-deploy/pkg/inventory"
)

// barrierCmd waits until every host holds the release (--mode hosts), or
// until every matrix job of this run has delivered it (--mode jobs).
type barrierCmd struct {
	conn     connFlags
	mode     string
	release  cli.ReleaseFlag
	sha256   string
	timeout  time.Duration
	interval time.Duration
	jobs     string
	step     string
	expect   int
	token    string
}

func (*barrierCmd) Name() string { return "barrier-wait" }
func (*barrierCmd) Synopsis() string {
	return "wait until every host holds the complete release, or every matrix job has delivered it"
}

func (c *barrierCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.mode, "mode", "hosts", `what to wait for: "hosts" (ask every host over SSH) or "jobs" (ask the GitHub API about this run's matrix jobs)`)
	c.release.Register(fs, "release id to wait for")
	fs.StringVar(&c.sha256, "sha256", "", "artifact checksum every host's release must have (hosts mode; the sha256 output of pack)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "how long to wait in all; then exit 1 naming who is missing")
	fs.DurationVar(&c.interval, "interval", 10*time.Second, "pause between two looks")
	fs.StringVar(&c.jobs, "jobs", "", `jobs mode: glob over this run's job names, like "deploy (*)" ('*' any text, '?' one character)`)
	fs.StringVar(&c.step, "step", "deliver", "jobs mode: name (or glob) of the step that delivers; a job counts once it succeeded, or the whole job did")
	fs.IntVar(&c.expect, "expect", 0, "jobs mode: wait until at least this many jobs match (0: as many as exist)")
	fs.StringVar(&c.token, "github-token", "", "jobs mode: token reading this run's jobs (default $GITHUB_TOKEN; needs actions: read)")
	cli.JSONFlag(fs)
}

// barrierResult is the result, as printed by --json.
type barrierResult struct {
	Mode    string           `json:"mode"`
	Release string           `json:"release,omitempty"`
	SHA256  string           `json:"sha256,omitempty"`
	Jobs    string           `json:"jobs,omitempty"`
	Ready   bool             `json:"ready"`
	Rounds  int              `json:"rounds"`
	Elapsed string           `json:"elapsed"`
	Members []barrier.Member `json:"members"`
	Error   string           `json:"error,omitempty"`
}

func (c *barrierCmd) Run(ctx context.Context, env *cli.Env, _ []string) error {
	// Every input is checked, all problems reported at once as bad input
	// (exit 2), before any host or API is touched. jobs mode may wait
	// without a release id; hosts mode needs one.
	var errs []error
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: want more than 0, like 10m", clock.Format(c.timeout)))
	}
	if c.interval <= 0 {
		errs = append(errs, fmt.Errorf("--interval %s: want more than 0, like 10s", clock.Format(c.interval)))
	}
	id, err := c.release.ID(env, c.mode == "hosts")
	errs = append(errs, err)
	res := barrierResult{Mode: c.mode, Release: id}
	var plan barrier.Plan
	var hosts []inventory.Target
	switch c.mode {
	case "hosts":
		res.SHA256, err = checkSHA256(c.sha256)
		errs = append(errs, err)
		f, err := c.conn.open(env)
		if err != nil {
			errs = append(errs, err)
			break
		}
		defer f.close()
		hosts = f.targets
		// One host's look is bounded, so a hung host is "unreachable" for
		// a round instead of holding up the others.
		plan = barrier.Hosts(barrier.HostsOptions{Targets: f.targets, Parallel: f.parallel, Layout: f.layout, Pool: f.pool,
			PerHost: c.conn.connectTimeout + 30*time.Second, Release: id, SHA256: res.SHA256})
	case "jobs":
		res.Jobs = c.jobs
		plan, hosts, err = c.jobsPlan(env)
		errs = append(errs, err)
	default:
		errs = append(errs, fmt.Errorf("--mode %q: want hosts or jobs", c.mode))
	}
	if err := errors.Join(errs...); err != nil {
		return cli.Usage(err)
	}
	st, err := barrier.Wait(ctx, plan, barrier.Options{Interval: c.interval, Timeout: c.timeout,
		Say: func(line string) { env.Progressf("barrier-wait: %s", line) }})
	return c.report(env, plan, res, st, err, hosts)
}

// report prints every member's state and, when the wait succeeded, sets
// the outputs: the release, and the hosts to activate.
func (c *barrierCmd) report(env *cli.Env, plan barrier.Plan, res barrierResult, st barrier.Status, err error, hosts []inventory.Target) error {
	res.Ready, res.Rounds, res.Elapsed = err == nil, st.Round, st.Elapsed.Round(time.Second).String()
	res.Members = append([]barrier.Member{}, st.Members...)
	if err != nil {
		res.Error = err.Error()
	}
	t := &cli.Table{Title: plan.Title, Header: []string{strings.TrimSuffix(plan.Noun, "s"), "state", "detail"}}
	for _, m := range st.Members {
		t.Add(m.Name, string(m.State), m.Detail)
	}
	if rerr := env.Report(res, t); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	if res.Release != "" {
		env.SetOutput("release", res.Release)
	}
	if len(hosts) > 0 {
		env.SetOutput("hosts", hostList(hosts))
	}
	return nil
}

// jobsPlan checks the inputs of --mode jobs and plans the wait over the
// API. --hosts, when given, is not waited for: it is passed on as the
// hosts output.
func (c *barrierCmd) jobsPlan(env *cli.Env) (barrier.Plan, []inventory.Target, error) {
	var errs []error
	o := barrier.JobsOptions{Pattern: c.jobs, Step: c.step, Expect: c.expect}
	if c.jobs == "" {
		errs = append(errs, errors.New(`--jobs is required in jobs mode: a glob over this run's job names, like "deploy (*)"`))
	} else if err := o.Validate(); err != nil {
		errs = append(errs, err)
	}
	token := c.token
	if token == "" {
		token = env.Getenv("GITHUB_TOKEN")
	}
	if token == "" {
		errs = append(errs, errors.New("jobs mode needs a token: set GITHUB_TOKEN (env: GITHUB_TOKEN: ${{ github.token }}) or --github-token; it needs actions: read"))
	}
	var err error
	if o.Run, err = ghapi.RunFromEnv(env.Getenv); err != nil {
		errs = append(errs, fmt.Errorf("jobs mode runs inside a workflow run: %w", err))
	}
	var hosts []inventory.Target
	if c.conn.hosts != "" {
		if hosts, err = inventory.Parse(c.conn.hosts); err != nil {
			errs = append(errs, fmt.Errorf("--hosts: %w", err))
		}
	}
	gh, err := ghapi.New(ghapi.NewHTTPClient(ghapi.RetryOptions{}), env.Getenv("GITHUB_API_URL"), token)
	if err != nil {
		errs = append(errs, fmt.Errorf("GITHUB_API_URL: %w", err))
	}
	o.Client = gh
	return barrier.Jobs(o), hosts, errors.Join(errs...)
}

// checkSHA256 checks a --sha256 value: empty or 64 hex digits.
func checkSHA256(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", fmt.Errorf("--sha256 %q: want 64 hexadecimal digits (the sha256 output of pack)", s)
	}
	return s, nil
}

func hostList(ts []inventory.Target) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, ",")
}
