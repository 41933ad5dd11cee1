package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

// countCmd reports how many hosts it got through, and fails as told.
type countCmd struct{ fail string }

func (*countCmd) Name() string     { return "count" }
func (*countCmd) Synopsis() string { return "count hosts" }
func (c *countCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.fail, "fail", "", "how to fail: usage, run, finding, host, hosts, early")
	fs.Int("n", 0, "a number")
	JSONFlag(fs)
}

type countResult struct {
	Done []string `json:"done"`
}

// hostErr is a step's error naming its host, as remote.ExitError does.
type hostErr struct{ host string }

func (e hostErr) Error() string     { return "exit status 1" }
func (e hostErr) ErrorHost() string { return e.host }

func (c *countCmd) Run(_ context.Context, env *Env, _ []string) error {
	switch c.fail {
	case "usage":
		return Usagef("--fail usage: bad input")
	case "early":
		return errors.New("failed before any result")
	}
	t := &Table{Header: []string{"host"}, Rows: [][]string{{"a"}}}
	if err := env.Report(countResult{Done: []string{"a"}}, t); err != nil {
		return err
	}
	switch c.fail {
	case "run":
		return errors.New("b: unreachable")
	case "finding":
		return fmt.Errorf("count: %w", finding{errors.New("b holds another artifact"), true})
	case "host":
		return fmt.Errorf("lock in /app on b: %w", hostErr{"b"})
	case "hosts":
		return fmt.Errorf("failed on 2 of 3 hosts: %w", errors.Join(hostErr{"b"}, fmt.Errorf("c: %w", hostErr{"c"}), hostErr{"b"}))
	}
	return nil
}

func runJSON(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := NewEnv(&out, &errb, nil, func(string) string { return "" }, "t")
	app := &App{Name: "nd", Commands: []Command{&countCmd{}, &echoCmd{}}}
	return app.Main(context.Background(), e, args), out.String(), errb.String()
}

// Every outcome of a --json command is one envelope on stdout, with the
// exit status the process ends with and the result so far.
func TestJSONEnvelope(t *testing.T) {
	partial := `{"done":["a"]}`
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		err    string
		host   string
		hosts  []string
		result string
	}{
		{"done", []string{"count", "--json"}, ExitOK, "", "", nil, partial},
		{"failed after a partial result", []string{"count", "--json", "--fail", "run"}, ExitFailed, "b: unreachable", "", nil, partial},
		{"failed before a result", []string{"count", "--json", "--fail", "early"}, ExitFailed, "failed before any result", "", nil, "null"},
		{"bad input", []string{"count", "--json", "--fail", "usage"}, ExitUsage, "--fail usage: bad input", "", nil, "null"},
		{"finding", []string{"count", "--json", "--fail", "finding"}, ExitFinding, "count: b holds another artifact", "", nil, partial},
		{"one host", []string{"count", "--json", "--fail", "host"}, ExitFailed, "lock in /app on b: exit status 1", "b", nil, partial},
		{"several hosts", []string{"count", "--json", "--fail", "hosts"}, ExitFailed, "failed on 2 of 3 hosts", "", []string{"b", "c"}, partial},
		// The flag package stops at the bad flag, before --json: it was
		// asked for all the same.
		{"bad flag before --json", []string{"count", "--bogus", "--json"}, ExitUsage, "flag provided but not defined: -bogus", "", nil, "null"},
		{"bad value before --json=true", []string{"count", "-n", "x", "-json=true"}, ExitUsage, `invalid value "x" for flag -n`, "", nil, "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, stdout, stderr := runJSON(tc.args...)
			if st != tc.exit {
				t.Errorf("status %d, want %d", st, tc.exit)
			}
			var res json.RawMessage
			env, err := DecodeEnvelope([]byte(stdout), &res)
			if err != nil {
				t.Fatalf("stdout is not one envelope: %v\n%s", err, stdout)
			}
			if env.Command != "count" || env.Exit != tc.exit || env.OK != (tc.exit == ExitOK) {
				t.Errorf("envelope %+v, want command count, exit %d", env, tc.exit)
			}
			if got := compact(t, res); got != tc.result {
				t.Errorf("result %s, want %s", got, tc.result)
			}
			switch {
			case tc.err == "" && env.Error != nil:
				t.Errorf("error %+v on success", env.Error)
			case tc.err != "" && (env.Error == nil || !strings.Contains(env.Error.Message, tc.err)):
				t.Errorf("error %+v, want a message with %q", env.Error, tc.err)
			case tc.err != "" && (env.Error.Host != tc.host || strings.Join(env.Error.Hosts, ",") != strings.Join(tc.hosts, ",")):
				t.Errorf("error names host %q, hosts %q; want %q, %q", env.Error.Host, env.Error.Hosts, tc.host, tc.hosts)
			}
			if tc.err != "" && strings.Count(stderr, tc.err) != 1 {
				t.Errorf("stderr says the error %d times, want once:\n%s", strings.Count(stderr, tc.err), stderr)
			}
			if strings.Contains(stdout, "host\n") {
				t.Errorf("table printed with --json:\n%s", stdout)
			}
		})
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if raw == nil {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Without --json, or for a command without it, nothing changes: tables on
// stdout, the error on stderr.
func TestNoJSONNoEnvelope(t *testing.T) {
	st, stdout, stderr := runJSON("count", "--fail", "run")
	if st != ExitFailed || !strings.Contains(stdout, "host\na") || strings.Contains(stdout, "{") || !strings.Contains(stderr, "b: unreachable") {
		t.Errorf("status %d, stdout %q, stderr %q", st, stdout, stderr)
	}
	// echo has no --json: a --json after its bad flag is only a word.
	if st, stdout, _ = runJSON("echo", "--bogus", "--json"); st != ExitUsage || stdout != "" {
		t.Errorf("echo --bogus --json: status %d, stdout %q", st, stdout)
	}
	// --json --help is help, not a result.
	if st, stdout, _ = runJSON("count", "--json", "--help"); st != ExitOK || strings.Contains(stdout, `"command"`) {
		t.Errorf("count --json --help: status %d, stdout %q", st, stdout)
	}
}

// demo runs other commands through App.Main with its own Env: an inner
// run's --json state must not leak into the outer one.
func TestJSONStateIsPerRun(t *testing.T) {
	var out bytes.Buffer
	e := NewEnv(&out, &bytes.Buffer{}, nil, func(string) string { return "" }, "t")
	app := &App{Name: "nd", Commands: []Command{&countCmd{}}}
	outer := &nestCmd{app: app}
	app.Commands = append(app.Commands, outer)
	if st := app.Main(context.Background(), e, []string{"nest"}); st != ExitOK {
		t.Fatalf("status %d", st)
	}
	if n := strings.Count(out.String(), `"command"`); n != 1 || !strings.Contains(out.String(), `"command": "count"`) {
		t.Errorf("want the inner count's envelope only:\n%s", out.String())
	}
	if outer.jsonAfter {
		t.Error("the outer command sees --json after the inner run")
	}
}

type nestCmd struct {
	app       *App
	jsonAfter bool
}

func (*nestCmd) Name() string           { return "nest" }
func (*nestCmd) Synopsis() string       { return "run count --json inside" }
func (*nestCmd) SetFlags(*flag.FlagSet) {}
func (c *nestCmd) Run(ctx context.Context, env *Env, _ []string) error {
	if st := c.app.Main(ctx, env, []string{"count", "--json"}); st != ExitOK {
		return fmt.Errorf("inner status %d", st)
	}
	c.jsonAfter = env.JSON()
	return nil
}

func TestJSONInArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--json"}, true},
		{[]string{"-json"}, true},
		{[]string{"--json=true"}, true},
		{[]string{"--json=1"}, true},
		{[]string{"--json=false"}, false},
		{[]string{"--json", "--json=false"}, false},
		{[]string{"--", "--json"}, false},
		{[]string{"json"}, false},
		{[]string{"--jsonx"}, false},
		{nil, false},
	} {
		if got := jsonInArgs(tc.args); got != tc.want {
			t.Errorf("jsonInArgs(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
