package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type barrierCmd struct{}

func (*barrierCmd) Name() string { return "barrier-wait" }
func (*barrierCmd) Synopsis() string {
	return "wait until every host holds the complete release (not implemented yet: issue #4)"
}
func (*barrierCmd) SetFlags(fs *flag.FlagSet) {}
func (*barrierCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("barrier-wait", 4)
}
