package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestSuggest(t *testing.T) {
	commands := []string{"build-standalone", "postbuild-copy-static", "pack", "deliver", "barrier-wait", "activate",
		"prune", "rollback", "releases", "status", "heap-snapshot", "config", "demo", "version", "completion"}
	for _, tc := range []struct{ word, want string }{
		{"delivr", "deliver"},
		{"Deliver", "deliver"},
		{"stauts", "status"},    // two letters swapped
		{"relases", "releases"}, // one left out
		{"rolback", "rollback"},
		{"heap", "heap-snapshot"}, // the start of one command only
		{"barrier", "barrier-wait"},
		{"build", "build-standalone"},
		{"p", ""},                 // the start of several, and too short
		{"pr", ""},                // prune and pack alike
		{"deploy-everything", ""}, // nothing close
		{"xyz", ""},
		{"", ""},
	} {
		if got := suggest(tc.word, commands); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	flags := []string{"hosts", "path", "pause", "ssh-key", "ssh-key-file", "ssh-agent", "ssh-passphrase", "json"}
	for _, tc := range []struct{ word, want string }{
		{"hots", "hosts"},
		{"host", "hosts"},
		{"pat", "path"},
		{"ssh", ""}, // the start of four
		{"jsno", "json"},
		{"paht", "path"},
	} {
		if got := suggest(tc.word, flags); got != tc.want {
			t.Errorf("suggest(%q) among flags = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ecoh"}, `unknown command "ecoh"; did you mean "echo"?`},
		{[]string{"echo", "--hots", "a"}, "flag provided but not defined: -hots; did you mean --hosts?"},
		{[]string{"echo", "-hots", "a"}, "flag provided but not defined: -hots; did you mean --hosts?"},
	} {
		st, _, stderr := runApp(nil, tc.args...)
		if st != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: status %d, stderr:\n%s\nwant %q", tc.args, st, stderr, tc.want)
		}
		if strings.Contains(stderr, "commands:") {
			t.Errorf("%q: the command list printed although a guess was made:\n%s", tc.args, stderr)
		}
	}
	// No guess: the command list, and no "did you mean".
	st, _, stderr := runApp(nil, "deploy-everything")
	if st != ExitUsage || strings.Contains(stderr, "did you mean") || !strings.Contains(stderr, "commands:\n  echo") {
		t.Errorf("no guess: status %d, stderr:\n%s", st, stderr)
	}
	if !strings.Contains(stderr, "run 'nd --help' for the commands") {
		t.Errorf("unknown command: hint points at a command that does not exist:\n%s", stderr)
	}
}

// Regression (issue 14): a bad flag was printed by the flag package (with
// the whole usage) and again by Main; it is said once, with a pointer to
// the usage.
func TestBadFlagReportedOnce(t *testing.T) {
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"echo", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"echo", "--known-hosts-count", "x"}, `invalid value "x" for flag -known-hosts-count`},
	} {
		st, _, stderr := runApp(nil, tc.args...)
		if st != ExitUsage {
			t.Errorf("%q: status %d, want %d", tc.args, st, ExitUsage)
		}
		if n := strings.Count(stderr, tc.say); n != 1 {
			t.Errorf("%q: stderr says %q %d times, want once:\n%s", tc.args, tc.say, n, stderr)
		}
		if strings.Contains(stderr, "flags:") || !strings.Contains(stderr, "run 'nd echo --help' for usage") {
			t.Errorf("%q: want the error and a pointer to the usage, not the usage:\n%s", tc.args, stderr)
		}
	}
	// -h still prints the usage, once.
	st, _, stderr := runApp(nil, "echo", "-h")
	if st != ExitOK || strings.Count(stderr, "usage: nd echo") != 1 {
		t.Errorf("echo -h: status %d, stderr:\n%s", st, stderr)
	}
}

// ParseFlags on a flag set without a Usage (config's flags after its
// word) prints the flag package's kind of usage for -h.
func TestParseFlagsWithoutUsage(t *testing.T) {
	var out bytes.Buffer
	fs := flag.NewFlagSet("nd config", flag.ContinueOnError)
	fs.SetOutput(&out)
	fs.String("name", "web", "app name")
	if err := ParseFlags(fs, []string{"-h"}); err != flag.ErrHelp || !strings.Contains(out.String(), "-name string") {
		t.Errorf("ParseFlags -h: %v, output:\n%s", err, out.String())
	}
	out.Reset()
	if err := ParseFlags(fs, []string{"--nmae", "x"}); err == nil || !strings.Contains(err.Error(), "did you mean --name?") || out.Len() > 0 {
		t.Errorf("ParseFlags --nmae: %v, output %q", err, out.String())
	}
}

type versionCmd struct{}

func (versionCmd) Name() string           { return "version" }
func (versionCmd) Synopsis() string       { return "print the version" }
func (versionCmd) SetFlags(*flag.FlagSet) {}
func (versionCmd) Run(_ context.Context, env *Env, _ []string) error {
	_, err := env.Stdout.Write([]byte("nd " + env.Version + "\n"))
	return err
}

func TestVersionFlag(t *testing.T) {
	app := &App{Name: "nd", Commands: []Command{&echoCmd{}, versionCmd{}}}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		var out bytes.Buffer
		e := NewEnv(&out, &bytes.Buffer{}, nil, func(string) string { return "" }, "v1.2.3")
		if st := app.Main(context.Background(), e, args); st != ExitOK || out.String() != "nd v1.2.3\n" {
			t.Errorf("%q: status %d, stdout %q", args, st, out.String())
		}
	}
	// Without a version command, --version is an unknown command.
	if st, _, _ := runApp(nil, "--version"); st != ExitUsage {
		t.Errorf("--version without a version command: status %d", st)
	}
}

type waitCmd struct{}

func (waitCmd) Name() string     { return "wait" }
func (waitCmd) Synopsis() string { return "wait" }
func (waitCmd) SetFlags(fs *flag.FlagSet) {
	fs.Duration("stale-after", 2*time.Hour, "age of a stale upload")
	fs.Duration("timeout", 90*time.Second, "how long")
	fs.Duration("pause", 0, "pause")
}
func (waitCmd) Run(context.Context, *Env, []string) error { return nil }

func TestHelpPrintsDurationsShort(t *testing.T) {
	var errb bytes.Buffer
	e := NewEnv(&bytes.Buffer{}, &errb, nil, func(string) string { return "" }, "t")
	app := &App{Name: "nd", Commands: []Command{waitCmd{}}}
	if st := app.Main(context.Background(), e, []string{"wait", "--help"}); st != ExitOK {
		t.Fatalf("status %d", st)
	}
	help := errb.String()
	for _, want := range []string{"(default 2h)", "(default 1m30s)"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "0m0s") || strings.Contains(help, "(default 0s)") {
		t.Errorf("help prints a long or zero default:\n%s", help)
	}
}
