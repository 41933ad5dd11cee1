package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/release"
)

type rollbackCmd struct {
	rollout rolloutFlags
	to      string
}

func (*rollbackCmd) Name() string { return "rollback" }
func (*rollbackCmd) Synopsis() string {
	return "switch hosts back to their previous release (or --to one), rolling and health-gated; no artifact, no build"
}

func (c *rollbackCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.to, "to", "", "release to go back to, any kept one (default: each host's previous release: the newest older than current that no rollback left, from its activation history)")
	c.rollout.register(fs)
	c.rollout.skew.register(fs, false)
}

func (c *rollbackCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if c.to != "" {
		if err := release.ValidID(c.to); err != nil {
			errs = append(errs, fmt.Errorf("--to: %w", err))
		}
	}
	choose := func(st *release.State) (string, error) {
		if c.to != "" {
			return c.to, nil
		}
		if st.Previous == "" {
			return "", fmt.Errorf("no release older than current (%s) that a rollback did not leave, in the activation history: name one with --to (next-deploy releases lists them)", orDash(st.Current))
		}
		return st.Previous, nil
	}
	return c.rollout.run(ctx, env, args, activate.ActionRollback, choose, errs)
}
