package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type releasesCmd struct{}

func (*releasesCmd) Name() string              { return "releases" }
func (*releasesCmd) Synopsis() string          { return "list the releases on every host (WIP)" }
func (*releasesCmd) SetFlags(fs *flag.FlagSet) {}
func (*releasesCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("releases", 2)
}
