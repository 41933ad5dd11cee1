package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type configCmd struct{}

func (*configCmd) Name() string { return "config" }
func (*configCmd) Synopsis() string {
	return "print the nginx or pm2 configuration that fits the layout (not implemented yet: issue #5)"
}
func (*configCmd) SetFlags(fs *flag.FlagSet) {}
func (*configCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("config", 5)
}
