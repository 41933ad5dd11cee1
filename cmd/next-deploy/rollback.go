package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type rollbackCmd struct{}

func (*rollbackCmd) Name() string { return "rollback" }
func (*rollbackCmd) Synopsis() string {
	return "switch hosts back to the previous release (not implemented yet: issue #5)"
}
func (*rollbackCmd) SetFlags(fs *flag.FlagSet) {}
func (*rollbackCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("rollback", 5)
}
