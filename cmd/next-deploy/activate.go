package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type activateCmd struct{}

func (*activateCmd) Name() string { return "activate" }
func (*activateCmd) Synopsis() string {
	return "switch hosts to a release one batch at a time, health-gated (not implemented yet: issue #5)"
}
func (*activateCmd) SetFlags(fs *flag.FlagSet) {}
func (*activateCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("activate", 5)
}
