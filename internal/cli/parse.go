package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
)

// ParseFlags parses args into fs and leaves the reporting of a bad flag
// to the caller, so it is said once: the flag package prints its error
// and the whole usage to fs's output, and App.Main printed the returned
// error again. Only the usage asked for with -h is printed here. A
// mistyped flag name comes back with the flag it was probably meant to
// be ("flag provided but not defined: -hots; did you mean --hosts?").
func ParseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if fs.Usage == nil {
			fmt.Fprintf(fs.Output(), "usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		} else {
			fs.Usage()
		}
		return err
	}
	return withFlagSuggestion(fs, err)
}

// undefinedFlag starts the flag package's error for a flag fs lacks; the
// package has no error type to tell it by.
const undefinedFlag = "flag provided but not defined: -"

func withFlagSuggestion(fs *flag.FlagSet, err error) error {
	name, ok := strings.CutPrefix(err.Error(), undefinedFlag)
	if !ok {
		return err
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := suggest(name, names); s != "" {
		return fmt.Errorf("%w; did you mean --%s?", err, s)
	}
	return err
}

// parse parses c's flags and starts the command's --json state, which
// Env.JSON and App.Main read: a --json that did not parse (it came after
// a bad flag) still asks for the envelope.
func (a *App) parse(env *Env, c Command, fs *flag.FlagSet, args []string, interleave bool) ([]string, error) {
	words, err := parseArgs(fs, args, interleave)
	env.json = &jsonRun{command: c.Name(), fs: fs, parsed: err == nil, asked: err != nil && jsonInArgs(args)}
	return words, err
}

// alias maps what users type for the version (--version, -version) to
// the version command, when the app has one.
func (a *App) alias(name string) string {
	if (name == "--version" || name == "-version") && a.find("version") != nil {
		return "version"
	}
	return name
}

// unknownCommand is the error for a command word the app lacks, naming
// the command it was probably meant to be; without a guess it prints
// the command list.
func (a *App) unknownCommand(env *Env, name string) error {
	names := make([]string, len(a.Commands))
	for i, c := range a.Commands {
		names[i] = c.Name()
	}
	if s := suggest(name, names); s != "" {
		return Usagef("unknown command %q; did you mean %q?", name, s)
	}
	a.usage(env.Stderr)
	return Usagef("unknown command %q", name)
}

// usageHint is the line after bad input: where the usage of the command
// is, or the command list when there is no command.
func (a *App) usageHint(args []string) string {
	if len(args) > 0 {
		if c := a.find(a.alias(args[0])); c != nil {
			return fmt.Sprintf("run '%s %s --help' for usage", a.Name, c.Name())
		}
	}
	return fmt.Sprintf("run '%s --help' for the commands", a.Name)
}

// humanDefaults makes --help print a duration's default as 2h, not
// 2h0m0s (clock.Format); the value is the same.
func humanDefaults(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		if d, ok := g.Get().(time.Duration); ok && f.DefValue == d.String() {
			f.DefValue = clock.Format(d)
		}
	})
}
