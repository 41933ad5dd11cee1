package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type echoCmd struct {
	hosts, key string
	n          int
}

func (*echoCmd) Name() string     { return "echo" }
func (*echoCmd) Synopsis() string { return "print flags" }
func (c *echoCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.hosts, "hosts", "", "hosts")
	fs.StringVar(&c.key, "ssh-key", "", "key")
	fs.IntVar(&c.n, "known-hosts-count", 0, "a dashed name")
}
func (c *echoCmd) Run(_ context.Context, env *Env, _ []string) error {
	fmt.Fprintf(env.Stdout, "hosts=%s n=%d\n", c.hosts, c.n)
	switch c.hosts {
	case "fail":
		return errors.New("it failed")
	case "finding":
		return fmt.Errorf("step: %w", finding{errors.New("host b holds another artifact as r1"), true})
	}
	return nil
}

// finding is a step's error that knows whether it is a finding, as
// deliver's conflict is: the step implements Finder without importing cli.
type finding struct {
	error
	is bool
}

func (f finding) Finding() bool { return f.is }

func runApp(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := NewEnv(&out, &errb, nil, func(k string) string { return env[k] }, "t")
	app := &App{Name: "nd", Commands: []Command{&echoCmd{}}}
	return app.Main(context.Background(), e, args), out.String(), errb.String()
}

func TestExitStatuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"echo", "--hosts", "a"}, ExitOK},
		{[]string{"echo", "--hosts", "fail"}, ExitFailed},
		{[]string{"echo", "--hosts", "finding"}, ExitFinding},
		{[]string{"echo", "--bogus"}, ExitUsage},
		{[]string{"nope"}, ExitUsage},
		{nil, ExitUsage},
		{[]string{"echo", "--help"}, ExitOK},
		{[]string{"help", "echo"}, ExitOK},
	} {
		if got, _, stderr := runApp(nil, tc.args...); got != tc.want {
			t.Errorf("%q: status %d, want %d (%s)", tc.args, got, tc.want, stderr)
		}
	}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"wrapped usage", fmt.Errorf("wrapped: %w", Usagef("bad")), ExitUsage},
		{"wrapped finding", fmt.Errorf("deliver: %w", finding{errors.New("conflict"), true}), ExitFinding},
		// A Finder may say no: a failure that merely has the method.
		{"not a finding", finding{errors.New("unreachable"), false}, ExitFailed},
		// Bad input wins over a finding.
		{"usage of a finding", Usage(finding{errors.New("x"), true}), ExitUsage},
		{"finding and failure joined", errors.Join(errors.New("unreachable"), finding{errors.New("x"), false}), ExitFailed},
	} {
		if got := ExitStatus(tc.err); got != tc.want {
			t.Errorf("%s: ExitStatus = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestInputsFillUnsetFlagsOnlyInActions(t *testing.T) {
	env := map[string]string{"GITHUB_ACTIONS": "true", "INPUT_HOSTS": " a,b \n", "INPUT_KNOWN_HOSTS_COUNT": "3", "INPUT_SSH_KEY": "line1\nline2"}
	_, out, _ := runApp(env, "echo")
	if !strings.Contains(out, "hosts=a,b n=3") {
		t.Errorf("inputs not applied: %q", out)
	}
	if !strings.Contains(out, "::add-mask::line1") || !strings.Contains(out, "::add-mask::line2") {
		t.Errorf("secret input not masked line by line: %q", out)
	}
	// A flag on the command line wins over the input.
	if _, out, _ = runApp(env, "echo", "--hosts", "c"); !strings.Contains(out, "hosts=c ") {
		t.Errorf("flag did not win: %q", out)
	}
	// Outside Actions inputs are ignored.
	delete(env, "GITHUB_ACTIONS")
	if _, out, _ = runApp(env, "echo"); !strings.Contains(out, "hosts= n=0") {
		t.Errorf("inputs used outside Actions: %q", out)
	}
	// A bad input value is bad input.
	if st, _, _ := runApp(map[string]string{"GITHUB_ACTIONS": "true", "INPUT_KNOWN_HOSTS_COUNT": "x"}, "echo"); st != ExitUsage {
		t.Errorf("bad input value: status %d, want 2", st)
	}
}

func TestTableMarkdown(t *testing.T) {
	tb := &Table{Title: "deliver v1", Header: []string{"host", "note"}}
	tb.Add("a|b", "line\nbreak")
	want := "### deliver v1\n\n| host | note |\n| --- | --- |\n| a\\|b | line break |\n"
	if got := tb.Markdown(); got != want {
		t.Errorf("Markdown() =\n%q\nwant\n%q", got, want)
	}
}

// status reports two tables (workers, activations): both go to the
// terminal and to the job summary, a nil one is left out, and a warning
// is an annotation plus a summary line in Actions.
func TestReportTablesAndWarnings(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "summary.md")
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}
	var out, errOut bytes.Buffer
	e := NewEnv(&out, &errOut, nil, func(k string) string { return env[k] }, "test")
	a := &Table{Title: "workers", Header: []string{"host"}, Rows: [][]string{{"h0"}}}
	b := &Table{Title: "last activations", Header: []string{"release"}, Rows: [][]string{{"v2"}}}
	if err := e.Report(nil, a, nil, b); err != nil {
		t.Fatal(err)
	}
	e.Warnf("h0: worker web#0: looks like a leak")
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### workers", "### last activations", "| v2 |", "> [!WARNING]\n> h0: worker web#0: looks like a leak"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(out.String(), "::warning::h0: worker web#0: looks like a leak") {
		t.Errorf("no warning annotation:\n%s", out.String())
	}
	if i, j := strings.Index(out.String(), "workers"), strings.Index(out.String(), "last activations"); i < 0 || j < i {
		t.Errorf("stdout does not hold both tables in order:\n%s", out.String())
	}
}

// argsCmd takes positional arguments, as config does.
type argsCmd struct{ got []string }

func (*argsCmd) Name() string           { return "words" }
func (*argsCmd) Synopsis() string       { return "take words" }
func (*argsCmd) SetFlags(*flag.FlagSet) {}
func (*argsCmd) Args() string           { return "WORD..." }
func (c *argsCmd) Run(_ context.Context, _ *Env, args []string) error {
	c.got = args
	return nil
}

// Regression: every command checked for stray arguments itself, twelve
// times with different words; now App refuses them for every command that
// is not an ArgsTaker, before it runs.
func TestPositionalArgumentsOnlyForArgsTakers(t *testing.T) {
	var out, errb bytes.Buffer
	e := NewEnv(&out, &errb, nil, func(string) string { return "" }, "t")
	words := &argsCmd{}
	app := &App{Name: "nd", Commands: []Command{&echoCmd{}, words}}
	if got := app.Main(context.Background(), e, []string{"echo", "--hosts", "a", "extra"}); got != ExitUsage {
		t.Fatalf("echo with an argument: status %d, want %d", got, ExitUsage)
	}
	if !strings.Contains(errb.String(), `unexpected arguments ["extra"]`) || strings.Contains(out.String(), "hosts=") {
		t.Fatalf("echo with an argument ran or said the wrong thing: stdout %q stderr %q", out.String(), errb.String())
	}
	if got := app.Main(context.Background(), e, []string{"words", "a", "b"}); got != ExitOK || strings.Join(words.got, ",") != "a,b" {
		t.Fatalf("words a b: status %d, args %q", got, words.got)
	}
}

func TestReleaseFlagDefaultsToCommit(t *testing.T) {
	for _, tc := range []struct {
		flag, sha string
		required  bool
		want, err string
	}{
		{"", "0123456789abcdef", true, "0123456", ""},
		{"r1", "0123456789abcdef", true, "r1", ""},
		{"", "", false, "", ""},
		{"", "", true, "", "--release is required"},
		{"../x", "", true, "", "--release: invalid input"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var r ReleaseFlag
		r.Register(fs, "release id")
		if tc.flag != "" {
			if err := fs.Parse([]string{"--release", tc.flag}); err != nil {
				t.Fatal(err)
			}
		}
		e := NewEnv(&bytes.Buffer{}, &bytes.Buffer{}, nil, func(k string) string {
			if k == "GITHUB_SHA" {
				return tc.sha
			}
			return ""
		}, "t")
		got, err := r.ID(e, tc.required)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("--release %q, GITHUB_SHA %q, required %v: got %q, %v; want %q, %q", tc.flag, tc.sha, tc.required, got, err, tc.want, tc.err)
		}
	}
}

// Regression (issue 13): --ssh-key "$KEY" put the key in
// /proc/<pid>/cmdline for every local user to read. A secret flag on the
// command line is refused before anything runs, naming the variable to use.
func TestSecretsNeverFromTheCommandLine(t *testing.T) {
	st, out, stderr := runApp(nil, "echo", "--hosts", "a", "--ssh-key", "PRIVATE")
	if st != ExitUsage || strings.Contains(out, "hosts=") {
		t.Fatalf("--ssh-key on the command line: status %d, ran: %q", st, out)
	}
	for _, want := range []string{"--ssh-key on the command line", "NEXT_DEPLOY_SSH_KEY", "--ssh-key-file -"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("message lacks %q: %s", want, stderr)
		}
	}
	if strings.Contains(stderr, "PRIVATE") {
		t.Errorf("the refused secret was echoed: %s", stderr)
	}
}

// A secret comes from its variable (or INPUT_ in Actions), is masked in
// Actions, and both variables are unset once read so that nothing started
// later inherits them.
func TestSecretsFromTheEnvironmentAreUnset(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"terminal", map[string]string{"NEXT_DEPLOY_SSH_KEY": "k1"}},
		{"actions", map[string]string{"GITHUB_ACTIONS": "true", "INPUT_SSH_KEY": "k1", "NEXT_DEPLOY_SSH_KEY": "other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var unset []string
			var out bytes.Buffer
			e := NewEnv(&out, &bytes.Buffer{}, nil, func(k string) string { return tc.env[k] }, "t")
			e.Unsetenv = func(k string) { unset = append(unset, k) }
			c := &echoCmd{}
			app := &App{Name: "nd", Commands: []Command{c}}
			if st := app.Main(context.Background(), e, []string{"echo", "--hosts", "a"}); st != ExitOK {
				t.Fatalf("status %d", st)
			}
			if c.key != "k1" {
				t.Errorf("key = %q, want k1", c.key)
			}
			for _, v := range []string{"INPUT_SSH_KEY", "NEXT_DEPLOY_SSH_KEY"} {
				if !slices.Contains(unset, v) {
					t.Errorf("%s not unset after reading (unset: %q)", v, unset)
				}
			}
			if masked := strings.Contains(out.String(), "::add-mask::k1"); masked != e.InActions {
				t.Errorf("masked = %v in Actions = %v: %q", masked, e.InActions, out.String())
			}
		})
	}
}
