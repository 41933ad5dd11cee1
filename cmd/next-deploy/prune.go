package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type pruneCmd struct{}

func (*pruneCmd) Name() string { return "prune" }
func (*pruneCmd) Synopsis() string {
	return "keep the newest N releases on every host (not implemented yet: issue #5)"
}
func (*pruneCmd) SetFlags(fs *flag.FlagSet) {}
func (*pruneCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("prune", 5)
}
