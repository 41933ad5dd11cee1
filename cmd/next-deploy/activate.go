package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/activate"
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
	c.rollout.skew.register(fs, true)
	c.rollout.canary.register(fs)
	fs.DurationVar(&c.rollout.watch, "watch", 0, "after the switch, sample every worker's heap for this long (1m to 1h: the workers it starts are judged once a minute old) and report its growth per minute and restarts; warns when it looks like a leak, not warm-up (0: off)")
}

func (c *activateCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	id, err := c.release.ID(env, true)
	c.rollout.hooksFor = id
	choose := func(*release.State) (string, error) { return id, nil }
	return c.rollout.run(ctx, env, args, activate.ActionActivate, choose, []error{err})
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
