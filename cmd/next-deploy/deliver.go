package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type deliverCmd struct{}

func (*deliverCmd) Name() string { return "deliver" }
func (*deliverCmd) Synopsis() string {
	return "upload a packed release to every host, verified and atomic (not implemented yet: issue #4)"
}
func (*deliverCmd) SetFlags(fs *flag.FlagSet) {}
func (*deliverCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("deliver", 4)
}
