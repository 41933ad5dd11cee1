package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type demoCmd struct{}

func (*demoCmd) Name() string              { return "demo" }
func (*demoCmd) Synopsis() string          { return "run a local demo deploy (not implemented yet: issue #6)" }
func (*demoCmd) SetFlags(fs *flag.FlagSet) {}
func (*demoCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("demo", 6)
}
