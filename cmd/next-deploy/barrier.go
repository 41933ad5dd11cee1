package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/barrier"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/ghapi"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
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
	asJSON   bool

	// Seams for tests; nil means the real thing.
	clock barrier.Clock
	http  *http.Client
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
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
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

// barrierPlan is a checked barrier-wait: what to poll and how to talk
// about it.
type barrierPlan struct {
	poll  barrier.Poll
	noun  string // "hosts", "jobs"
	title string
	// subject names what is awaited in the final error.
	subject string
	// hint says what to do on a timeout or failure.
	timeoutHint, failHint string
	result                barrierResult
	// outputs are set in Actions when the wait succeeded.
	outputs map[string]string
	close   func()
}

func (c *barrierCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	p, err := c.plan(env)
	if err != nil {
		return err
	}
	defer p.close()
	return c.wait(ctx, env, p)
}

// plan checks every input, reporting all problems at once as bad input
// (exit 2), before any host or API is touched.
func (c *barrierCmd) plan(env *cli.Env) (*barrierPlan, error) {
	var errs []error
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: want more than 0, like 10m", c.timeout))
	}
	if c.interval <= 0 {
		errs = append(errs, fmt.Errorf("--interval %s: want more than 0, like 10s", c.interval))
	}
	// jobs mode may wait without a release id; hosts mode needs one.
	id, err := c.release.ID(env, c.mode == "hosts")
	if err != nil {
		errs = append(errs, err)
	}
	switch c.mode {
	case "hosts":
		sum, err := checkSHA256(c.sha256)
		if err != nil {
			errs = append(errs, err)
		}
		return c.planHosts(env, id, sum, errs)
	case "jobs":
		return c.planJobs(env, id, errs)
	default:
		errs = append(errs, fmt.Errorf("--mode %q: want hosts or jobs", c.mode))
		return nil, cli.Usage(errors.Join(errs...))
	}
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

func (c *barrierCmd) planHosts(env *cli.Env, id, sum string, errs []error) (*barrierPlan, error) {
	f, err := c.conn.open(env)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		if f != nil {
			f.close()
		}
		return nil, cli.Usage(errors.Join(errs...))
	}
	state := func(ctx context.Context, t inventory.Target) (*release.State, error) {
		h, err := f.pool.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		return f.layout.State(ctx, h)
	}
	// One host's look is bounded, so a hung host is "unreachable" for a
	// round instead of holding up the others.
	perHost := c.conn.connectTimeout + 30*time.Second
	names := make([]string, len(f.targets))
	for i, t := range f.targets {
		names[i] = t.String()
	}
	return &barrierPlan{
		poll:        hostsPoll(f.targets, f.parallel, perHost, id, sum, state),
		noun:        "hosts",
		title:       fmt.Sprintf("release %s in %s", id, f.layout.Root),
		subject:     fmt.Sprintf("release %s is not on every host", id),
		timeoutHint: "check that deliver ran and succeeded for these hosts, then run barrier-wait again (or raise --timeout)",
		failHint:    "a host that holds another artifact under this id needs a new release id (never reuse one for another build); fix the hosts named and run barrier-wait again",
		result:      barrierResult{Mode: "hosts", Release: id, SHA256: sum},
		outputs:     map[string]string{"release": id, "hosts": strings.Join(names, ",")},
		close:       f.close,
	}, nil
}

func (c *barrierCmd) planJobs(env *cli.Env, id string, errs []error) (*barrierPlan, error) {
	d := ghapi.Delivery{Pattern: c.jobs, Step: c.step, Expect: c.expect}
	if c.jobs == "" {
		errs = append(errs, errors.New(`--jobs is required in jobs mode: a glob over this run's job names, like "deploy (*)"`))
	} else if err := d.Validate(); err != nil {
		errs = append(errs, err)
	}
	token := c.token
	if token == "" {
		token = env.Getenv("GITHUB_TOKEN")
	}
	if token == "" {
		errs = append(errs, errors.New("jobs mode needs a token: set GITHUB_TOKEN (env: GITHUB_TOKEN: ${{ github.token }}) or --github-token; it needs actions: read"))
	}
	run, err := ghapi.RunFromEnv(env.Getenv)
	if err != nil {
		errs = append(errs, fmt.Errorf("jobs mode runs inside a workflow run: %w", err))
	}
	var hosts []inventory.Target
	if c.conn.hosts != "" {
		// Not used to wait; passed on as the hosts output.
		if hosts, err = inventory.Parse(c.conn.hosts); err != nil {
			errs = append(errs, fmt.Errorf("--hosts: %w", err))
		}
	}
	hc := c.http
	if hc == nil {
		hc = ghapi.NewHTTPClient(ghapi.RetryOptions{})
	}
	gh, err := ghapi.New(hc, env.Getenv("GITHUB_API_URL"), token)
	if err != nil {
		errs = append(errs, fmt.Errorf("GITHUB_API_URL: %w", err))
	}
	if len(errs) > 0 {
		return nil, cli.Usage(errors.Join(errs...))
	}
	outputs := map[string]string{}
	if id != "" {
		outputs["release"] = id
	}
	if len(hosts) > 0 {
		names := make([]string, len(hosts))
		for i, t := range hosts {
			names[i] = t.String()
		}
		outputs["hosts"] = strings.Join(names, ",")
	}
	return &barrierPlan{
		poll:        gh.Poll(run, d),
		noun:        "jobs",
		title:       fmt.Sprintf("jobs matching %q in %s", c.jobs, run),
		subject:     fmt.Sprintf("not every job matching %q delivered", c.jobs),
		timeoutHint: "look at the jobs named in the run; check that --jobs and --step match the workflow's job and step names, or raise --timeout",
		failHint:    "fix that job's delivery and re-run the failed jobs",
		result:      barrierResult{Mode: "jobs", Release: id, Jobs: c.jobs},
		outputs:     outputs,
		close:       func() {},
	}, nil
}

// wait runs the barrier, reports every member's state and says what the
// outcome means.
func (c *barrierCmd) wait(ctx context.Context, env *cli.Env, p *barrierPlan) error {
	st, err := barrier.Wait(ctx, p.poll, barrier.Options{
		Interval: c.interval,
		Timeout:  c.timeout,
		Clock:    c.clock,
		Progress: progressLine(env, p.noun),
	})
	res := p.result
	res.Ready = err == nil
	res.Rounds = st.Round
	res.Elapsed = st.Elapsed.Round(time.Second).String()
	res.Members = append([]barrier.Member{}, st.Members...)
	if err != nil {
		res.Error = err.Error()
	}
	header := "host"
	if p.noun == "jobs" {
		header = "job"
	}
	t := &cli.Table{Title: p.title, Header: []string{header, "state", "detail"}}
	for _, m := range st.Members {
		t.Add(m.Name, string(m.State), m.Detail)
	}
	if rerr := env.Report(c.asJSON, res, t); rerr != nil && err == nil {
		err = rerr
	}
	switch {
	case err == nil:
		for _, k := range []string{"release", "hosts"} {
			if v, ok := p.outputs[k]; ok {
				env.SetOutput(k, v)
			}
		}
		return nil
	case errors.Is(err, barrier.ErrTimeout):
		return fmt.Errorf("%s: %w; %s", p.subject, err, p.timeoutHint)
	case errors.Is(err, barrier.ErrFailed):
		return fmt.Errorf("%s: %w; %s", p.subject, err, p.failHint)
	}
	return fmt.Errorf("%s: %w", p.subject, err)
}

// progressLine prints who is still missing: when that changes, and once
// a minute or so while it does not; and every failed look.
func progressLine(env *cli.Env, noun string) func(barrier.Status) {
	var last string
	var unchanged int
	return func(st barrier.Status) {
		if st.Err != nil {
			env.Progressf("barrier-wait: [%s] look %d failed, retrying: %v", st.Elapsed.Round(time.Second), st.Round, st.Err)
			return
		}
		w := st.In(barrier.Waiting)
		line := fmt.Sprintf("waiting for %d of %d %s: %s", len(w), len(st.Members), noun, barrier.Describe(w))
		if line == last {
			if unchanged++; unchanged%6 != 0 {
				return
			}
		} else {
			unchanged = 0
		}
		last = line
		env.Progressf("barrier-wait: [%s] %s", st.Elapsed.Round(time.Second), line)
	}
}

// hostsPoll returns the poll of --mode hosts: it reads the state of every
// host not yet known to be ready (a complete release is immutable), at
// most parallel at a time, each bounded by perHost, and judges it.
func hostsPoll(targets []inventory.Target, parallel int, perHost time.Duration, id, sum string,
	state func(context.Context, inventory.Target) (*release.State, error)) barrier.Poll {
	ready := make([]*barrier.Member, len(targets))
	return func(ctx context.Context) (barrier.Status, error) {
		var todo []inventory.Target
		var at []int
		for i, t := range targets {
			if ready[i] == nil {
				todo = append(todo, t)
				at = append(at, i)
			}
		}
		results := fleet.Each(ctx, todo, parallel, func(ctx context.Context, _ int, t inventory.Target) (*release.State, error) {
			ctx, cancel := context.WithTimeout(ctx, perHost)
			defer cancel()
			return state(ctx, t)
		})
		if err := ctx.Err(); err != nil {
			return barrier.Status{}, err
		}
		st := barrier.Status{Members: make([]barrier.Member, len(targets))}
		for i := range targets {
			if ready[i] != nil {
				st.Members[i] = *ready[i]
			}
		}
		for k, r := range results {
			m := judgeHost(r.Target.String(), r.Value, r.Err, id, sum)
			st.Members[at[k]] = m
			if m.State == barrier.Ready {
				ready[at[k]] = &m
			}
		}
		return st, nil
	}
}

// judgeHost says where one host stands with release id.
func judgeHost(name string, st *release.State, err error, id, sum string) barrier.Member {
	m := barrier.Member{Name: name, State: barrier.Waiting}
	var hk *remote.HostKeyError
	switch {
	case errors.As(err, &hk):
		// Waiting cannot fix a host key known_hosts does not vouch for.
		m.State, m.Detail = barrier.Failed, err.Error()
	case err != nil:
		m.Detail = "unreachable, retrying: " + err.Error()
	case st.Has(id):
		got := ""
		if r := st.Find(id); r.Manifest != nil {
			got = strings.ToLower(r.Manifest.SHA256)
		}
		switch {
		case sum == "":
			m.State, m.Detail = barrier.Ready, "complete"
		case got == sum:
			m.State, m.Detail = barrier.Ready, "complete, sha256 matches"
		default:
			m.State = barrier.Failed
			m.Detail = fmt.Sprintf("holds release %s from another artifact: sha256 %s, want %s", id, orNone(got), sum)
		}
	case st.Find(id) != nil:
		m.Detail = fmt.Sprintf("release %s incomplete (no manifest yet)", id)
	case st.Incoming > 0:
		m.Detail = fmt.Sprintf("no release %s yet (an upload is in progress, or was abandoned)", id)
	default:
		m.Detail = fmt.Sprintf("no release %s yet", id)
	}
	return m
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
