package main

import (
	"context"
	"flag"

	"github.com/org/next-deploy/pkg/cli"
)

type postbuildCmd struct{}

func (*postbuildCmd) Name() string { return "postbuild-copy-static" }
func (*postbuildCmd) Synopsis() string {
	return "copy public/ and .next/static into the standalone tree (not implemented yet: issue #3)"
}
func (*postbuildCmd) SetFlags(fs *flag.FlagSet) {}
func (*postbuildCmd) Run(context.Context, *cli.Env, []string) error {
	return notYet("postbuild-copy-static", 3)
}
