package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/initapp"
)

type initCmd struct {
	opts initapp.Options
}

func (*initCmd) Name() string { return "init" }
func (*initCmd) Synopsis() string {
	return "set up an app: next-deploy.yml, the three next.config lines, the caller workflows, and the commands each server needs once"
}

func (c *initCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.opts.Dir, "dir", ".", "the app's directory (package.json, next.config); the workflows go to the repository holding it")
	fs.StringVar(&c.opts.RunnerLabel, "runner-label", initapp.DefaultRunnerLabel, "label of the self-hosted runner that reaches the servers: the deploy and rollback jobs run on [self-hosted, <label>]")
	fs.StringVar(&c.opts.Path, "path", initapp.DefaultPath, "deploy root on the servers, for a new next-deploy.yml")
	fs.StringVar(&c.opts.Name, "name", initapp.DefaultName, "pm2 app name, for a new next-deploy.yml")
	fs.IntVar(&c.opts.Port, "port", initapp.DefaultPort, "port the app listens on, for a new next-deploy.yml")
	cli.JSONFlag(fs)
}

// Run writes what is missing and never overwrites a file. Exit status 3
// (a finding) when next.config needs an edit init would not make: the
// diff to apply is printed, everything else is done.
func (c *initCmd) Run(_ context.Context, env *cli.Env, _ []string) error {
	if err := c.opts.Check(); err != nil {
		return cli.Usage(err)
	}
	res, err := initapp.Init(c.opts)
	var cfgErr *config.Error
	if errors.As(err, &cfgErr) {
		return cli.Usage(fmt.Errorf("init: the app's %s: %w", config.FileName, err))
	}
	if res == nil {
		return err
	}
	if env.JSON() {
		if rerr := env.Report(res); rerr != nil {
			return rerr
		}
		return err
	}
	printInit(env.Stdout, res)
	return err
}

func printInit(w io.Writer, res *initapp.Result) {
	fmt.Fprintf(w, "next-deploy init: the app in %s", res.Dir)
	if res.Root != res.Dir {
		fmt.Fprintf(w, ", the repository %s", res.Root)
	}
	fmt.Fprint(w, "\n\n")
	t := &cli.Table{Header: []string{"file", "done", "note"}}
	for _, f := range res.Files {
		t.Add(f.Path, string(f.Action), f.Note)
	}
	_ = t.WriteText(w)
	hand := false
	for _, f := range res.Files {
		hand = hand || f.Action == initapp.ByHand
		if f.Diff == "" {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s):\n", f.Path, diffTitle(f.Action))
		if f.Why != "" {
			fmt.Fprintf(w, "%s.\n", f.Why)
		}
		fmt.Fprint(w, f.Diff)
	}
	if !res.Changed && !hand {
		fmt.Fprintln(w, "\nNothing changed: every file is there already.")
	}
	printNext(w, res, hand)
}

func diffTitle(a initapp.Action) string {
	switch a {
	case initapp.Edited:
		return "the edit made"
	case initapp.ByHand:
		return "not edited: apply this diff yourself, e.g. with git apply, once you agree"
	}
	return "not overwritten: the diff from it to what init writes"
}

// printNext prints what is left to the user, in order.
func printNext(w io.Writer, res *initapp.Result, hand bool) {
	fmt.Fprintln(w, "\nNext:")
	step := 0
	say := func(format string, a ...any) {
		step++
		fmt.Fprintf(w, "  %d. %s\n", step, fmt.Sprintf(format, a...))
	}
	if hand {
		say("next.config: give it the three lines (see above); a next.config init cannot edit safely is yours to change.")
	}
	if len(res.Placeholders) > 0 {
		say("%s: replace the placeholder hosts (*.example.com) of %s with your servers, [user@]host[:port].", config.FileName, strings.Join(res.Placeholders, ", "))
	}
	for _, s := range res.Server {
		say("On every server of %s, once:", strings.Join(s.Environments, ", "))
		fmt.Fprintln(w, "       as root:")
		for _, c := range s.Root {
			fmt.Fprintf(w, "         %s\n", c)
		}
		fmt.Fprintln(w, "       as the deploy login (the app's secrets go in its shared files):")
		for _, c := range s.Login {
			fmt.Fprintf(w, "         %s\n", c)
		}
	}
	say("GitHub, Settings > Environments: %s, each with the secrets SSH_KEY (the deploy login's private key) and KNOWN_HOSTS (ssh-keyscan of its servers, checked); variables there win over %s.", strings.Join(res.Environments, ", "), config.FileName)
	say("A self-hosted runner labelled %s, inside the network that reaches the servers over SSH: the deploy and rollback jobs run on it.", res.RunnerLabel)
	say("Commit, then push to develop: .github/workflows/deploy-develop.yml deploys it.")
}
