package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type packCmd struct{}

func (*packCmd) Name() string { return "pack" }
func (*packCmd) Synopsis() string {
	return "pack the standalone tree into a reproducible, checksummed archive (not implemented yet: issue #3)"
}
func (*packCmd) SetFlags(fs *flag.FlagSet) {}
func (*packCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("pack", 3)
}
