// Package cli owns how a next-deploy step meets its user: subcommands and
// their flags, inputs from GitHub Actions when run as an action, exit
// statuses (0 done, 1 failed, 2 bad input, 3 a finding), and where results
// go (terminal, the --json envelope, GITHUB_OUTPUT, the job summary), and
// the comforts around them: --version, "did you mean", shell completion.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"
)

// Exit statuses.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
	// ExitFinding: the step worked and found something the user must
	// act on that is not a failure of ours (a host holds another
	// artifact under the release id).
	ExitFinding = 3
)

// Env is what a command gets from the outside world; tests build their own.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Getenv func(string) string
	// Action is the one Actions adapter, built once from Getenv and Stdout.
	Action *githubactions.Action
	// InActions is true when GITHUB_ACTIONS=true.
	InActions bool
	// Version is the program's version.
	Version string
	// Unsetenv removes a variable from the process environment once a
	// secret has been read from it, so nothing started later (a local
	// host's scripts, pm2, hooks) inherits it; nil in tests.
	Unsetenv func(string)
	// progress serializes Progressf: hosts report from goroutines of
	// their own, and Stderr need not be safe for concurrent writes.
	progress sync.Mutex
	// json is the --json state of the command App.Main runs.
	json *jsonRun
	// file is the settings file's layer of this run (file.go).
	file *fileState
}

// NewEnv builds an Env over the given streams and environment.
func NewEnv(stdout, stderr io.Writer, stdin io.Reader, getenv func(string) string, version string) *Env {
	return &Env{
		Stdout:    stdout,
		Stderr:    stderr,
		Stdin:     stdin,
		Getenv:    getenv,
		Action:    githubactions.New(githubactions.WithWriter(stdout), githubactions.WithGetenv(getenv)),
		InActions: getenv("GITHUB_ACTIONS") == "true",
		Version:   version,
	}
}

// Command is one subcommand.
type Command interface {
	// Name is the subcommand word.
	Name() string
	// Synopsis is a one-line description for the command list.
	Synopsis() string
	// SetFlags registers the command's flags on fs, binding them to the
	// command's own fields.
	SetFlags(fs *flag.FlagSet)
	// Run runs the command once its flags are parsed. args are the
	// positional arguments left after the flags: always none unless the
	// command is an ArgsTaker.
	Run(ctx context.Context, env *Env, args []string) error
}

// ArgsTaker is a Command that takes positional arguments (config nginx).
// Every other command refuses them in App, before it runs.
type ArgsTaker interface {
	// Args names the positional arguments for the usage line.
	Args() string
}

// UsageError is bad input: exit status 2, nothing touched.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// Usage marks err as bad input (exit 2); nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// Finder is an error that may be a finding (exit status 3) rather than a
// failure. Steps implement it on their own errors, so they need not
// import the Face; Finding reports whether this one is.
type Finder interface {
	Finding() bool
}

// ExitStatus maps an error to the exit status: bad input wins, then a
// finding, else a failure.
func ExitStatus(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var f Finder
	if errors.As(err, &f) && f.Finding() {
		return ExitFinding
	}
	return ExitFailed
}

// SecretFlags are the flags whose values are secrets, with the environment
// variable that carries them outside Actions. A secret is never taken from
// the command line (every local user reads /proc/<pid>/cmdline): it comes
// from INPUT_<FLAG> in Actions, from its variable, or from a file. Its value
// is masked in the Actions log, line by line, as soon as it is read, and
// the variable it came from is unset.
var SecretFlags = map[string]string{
	"ssh-key":        "NEXT_DEPLOY_SSH_KEY",
	"ssh-passphrase": "NEXT_DEPLOY_SSH_PASSPHRASE",
	"github-token":   "GITHUB_TOKEN",
}

// secretOnCommandLine refuses a secret flag given as an argument.
func secretOnCommandLine(fs *flag.FlagSet) error {
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		if v, ok := SecretFlags[f.Name]; ok {
			hint := "set " + v
			if f.Name == "ssh-key" {
				hint += ", or pass --ssh-key-file FILE (--ssh-key-file - reads the key from stdin)"
			}
			errs = append(errs, fmt.Errorf("--%s on the command line is readable by every local user (/proc/<pid>/cmdline); nothing was done: %s instead", f.Name, hint))
		}
	})
	return errors.Join(errs...)
}

// App is the set of subcommands of one program.
type App struct {
	Name     string
	Commands []Command
}

// Main runs the program with args (without the program name) and returns
// its exit status. It is the only place that decides the exit status.
// With --json it prints the envelope on stdout, the error included.
func (a *App) Main(ctx context.Context, env *Env, args []string) int {
	// A command may run others (demo does): each run has its own state.
	saved := env.json
	env.json = nil
	defer func() { env.json = saved }()
	err := a.run(ctx, env, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if env.JSON() {
		err = env.writeEnvelope(err)
	}
	if err == nil {
		return ExitOK
	}
	status := ExitStatus(err)
	if env.InActions {
		env.Action.Errorf("%s", err.Error())
	} else {
		fmt.Fprintf(env.Stderr, "%s: %v\n", a.Name, err)
	}
	if status == ExitUsage {
		fmt.Fprintln(env.Stderr, a.usageHint(args))
	}
	return status
}

func (a *App) run(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		a.usage(env.Stderr)
		return Usagef("no command given")
	}
	name := a.alias(args[0])
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		if len(args) > 1 {
			if c := a.find(args[1]); c != nil {
				fs := newFlagSet(a.Name, c, env.Stdout)
				fs.Usage()
				return nil
			}
		}
		a.usage(env.Stdout)
		return nil
	}
	c := a.find(name)
	if c == nil {
		return a.unknownCommand(env, name)
	}
	fs := newFlagSet(a.Name, c, env.Stderr)
	_, takesArgs := c.(ArgsTaker)
	words, err := a.parse(env, c, fs, args[1:], takesArgs)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return Usage(err)
	}
	errs := []error{secretOnCommandLine(fs)}
	if !takesArgs && len(words) > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q: %s takes flags only", words, c.Name()))
	}
	known := env.givenSources(fs)
	if err := overlayInputs(fs, env); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, env.applyFile(fs, known))
	if err := errors.Join(errs...); err != nil {
		return Usage(err)
	}
	return c.Run(ctx, env, words)
}

func (a *App) find(name string) Command {
	for _, c := range a.Commands {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", a.Name)
	for _, c := range a.Commands {
		fmt.Fprintf(w, "  %-22s %s\n", c.Name(), c.Synopsis())
	}
	fmt.Fprintf(w, "\nrun '%s <command> --help' for a command's flags, '%s --version' for the version\n", a.Name, a.Name)
}

func newFlagSet(prog string, c Command, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+c.Name(), flag.ContinueOnError)
	fs.SetOutput(w)
	c.SetFlags(fs)
	registerFileFlags(fs)
	humanDefaults(fs)
	fs.Usage = func() {
		args := ""
		if a, ok := c.(ArgsTaker); ok {
			args = " " + a.Args()
		}
		fmt.Fprintf(w, "usage: %s %s [flags]%s\n\n%s\n\nflags:\n", prog, c.Name(), args, c.Synopsis())
		fs.PrintDefaults()
		if len(actionInputNames(fs)) > 0 {
			fmt.Fprintf(w, "\nIn GitHub Actions (GITHUB_ACTIONS=true) a flag not given on the command line\nis read from the input of the same name (INPUT_<NAME>, '-' as '_').\n")
		}
	}
	return fs
}

// overlayInputs fills, in Actions, every flag not set on the command line
// from the action input of the same name (INPUT_HOSTS for --hosts,
// INPUT_KNOWN_HOSTS for --known-hosts). Secret values are masked first.
// Every bad input is reported at once.
func overlayInputs(fs *flag.FlagSet, env *Env) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	for _, name := range actionInputNames(fs) {
		if set[name] {
			continue
		}
		input := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		v, from := "", ""
		if env.InActions {
			v, from = env.Getenv(input), "input "+strings.ReplaceAll(name, "-", "_")
		}
		secretVar, secret := SecretFlags[name]
		if secret {
			if v == "" {
				v, from = env.Getenv(secretVar), secretVar
			}
			// Read once, then gone from the environment that local
			// scripts, pm2 and hooks would inherit.
			env.unset(input)
			env.unset(secretVar)
		}
		if v == "" {
			continue
		}
		if secret && env.InActions {
			mask(env, v)
		}
		if err := fs.Set(name, strings.TrimSpace(v)); err != nil {
			if secret {
				err = errors.New("bad value") // never echo a secret
			}
			errs = append(errs, fmt.Errorf("%s: %w", from, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Env) unset(name string) {
	if e.Unsetenv != nil {
		e.Unsetenv(name)
	}
}

func actionInputNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	return names
}

// mask hides every line of a secret in the Actions log.
func mask(env *Env, secret string) {
	for line := range strings.SplitSeq(secret, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			env.Action.AddMask(line)
		}
	}
}

// OSEnv builds the Env of the real process.
func OSEnv(version string) *Env {
	e := NewEnv(os.Stdout, os.Stderr, os.Stdin, os.Getenv, version)
	e.Unsetenv = func(k string) { _ = os.Unsetenv(k) }
	return e
}
