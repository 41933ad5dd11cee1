package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type buildCmd struct{}

func (*buildCmd) Name() string { return "build-standalone" }
func (*buildCmd) Synopsis() string {
	return "run next build with standalone output for one release (not implemented yet: issue #3)"
}
func (*buildCmd) SetFlags(fs *flag.FlagSet) {}
func (*buildCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("build-standalone", 3)
}
