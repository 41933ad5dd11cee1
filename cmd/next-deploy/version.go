package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"github.com/org/next-deploy/internal/cli"
)

type versionCmd struct{}

func (*versionCmd) Name() string              { return "version" }
func (*versionCmd) Synopsis() string          { return "print the version of next-deploy" }
func (*versionCmd) SetFlags(fs *flag.FlagSet) {}
func (*versionCmd) Run(_ context.Context, env *cli.Env, _ []string) error {
	fmt.Fprintf(env.Stdout, "next-deploy %s %s/%s\n", env.Version, runtime.GOOS, runtime.GOARCH)
	return nil
}
