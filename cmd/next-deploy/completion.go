package main

import (
	"context"
	"flag"
	"strings"

	"github.com/org/next-deploy/internal/cli"
)

// completionCmd prints a shell completion script made from the commands
// and their flags (cli.App.Completion).
type completionCmd struct{}

func (*completionCmd) Name() string { return "completion" }
func (*completionCmd) Synopsis() string {
	return "print a shell completion script for bash, zsh or fish: source <(next-deploy completion bash)"
}
func (*completionCmd) SetFlags(*flag.FlagSet) {}

// Args implements cli.ArgsTaker.
func (*completionCmd) Args() string { return strings.Join(cli.Shells, "|") }

// ArgWords implements cli.ArgWorder.
func (*completionCmd) ArgWords() []string { return cli.Shells }

func (*completionCmd) Run(_ context.Context, env *cli.Env, args []string) error {
	if len(args) != 1 {
		return cli.Usagef("want one shell: completion %s", strings.Join(cli.Shells, ", completion "))
	}
	return newApp().Completion(env.Stdout, args[0])
}
