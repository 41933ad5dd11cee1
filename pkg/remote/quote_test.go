package remote_test

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/remote"
)

// nasty are strings a shell would love to interpret.
var nasty = []string{
	"", " ", "'", "''", `\'`, `'\''`, `"`, `\`, `\\`, "$(id)", "`id`", "${HOME}", "$HOME", "$1", "$@", "$*", "$?", "$$",
	"a b", "a\tb", "a\nb", "\n", "\r\n", "; rm -rf /", "&& echo pwned", "| cat", "> /tmp/x", "< /etc/passwd",
	"*", "?", "[a-z]*", "~", "~root", "-n", "-e", "--", "-", "#comment", "!", "!!", "{a,b}", "a=b", "%s", "%%", `\n`,
	"\x01\x7f\xff\xfe", "é漢字🙂", "\xc3\x28", strings.Repeat("'", 100), strings.Repeat("x", 100000),
}

func FuzzQuote(f *testing.F) {
	for _, s := range nasty {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// An argument of a program cannot hold NUL (C strings end there),
		// so neither can anything a shell passes on: such strings cannot
		// reach a script whatever the quoting.
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("NUL cannot be in a shell argument")
		}
		out, err := exec.Command(remote.Shell, "-c", "printf %s "+remote.Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c printf %%s %s: %v", remote.Quote(s), err)
		}
		if got := string(out); got != s {
			t.Fatalf("through sh: got %q, want %q", got, s)
		}
	})
}

// TestCommandLineThroughShell runs CommandLine as sshd would (a shell
// running it with -c) and checks $0 and "$@" arrive intact.
func TestCommandLineThroughShell(t *testing.T) {
	args := []string{"it's", "$(id)", "`id`", "a\nb", "a; echo pwned", "*", "-n", "", "--", "\\", `"q"`, "  spaced  ", "é"}
	c := remote.Cmd{Script: `printf '%s\0' "$0"; for a in "$@"; do printf '%s\0' "$a"; done`, Args: args}
	out, err := exec.Command(remote.Shell, "-c", remote.CommandLine(c)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	want := append([]string{"next-deploy"}, args...)
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A script's own quoting survives too: the script is an argument like any.
func TestCommandLineScriptWithQuotes(t *testing.T) {
	c := remote.Cmd{Script: `printf '%s|%s' "it's" "$1"`, Args: []string{"x'y"}}
	out, err := exec.Command(remote.Shell, "-c", remote.CommandLine(c)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "it's|x'y"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `''`},
		{"abc", `'abc'`},
		{"a b", `'a b'`},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$(id)", `'$(id)'`},
		{"a\nb", "'a\nb'"},
	} {
		if got := remote.Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  remote.Cmd
		want string
	}{
		{"no args", remote.Cmd{Script: "true"}, `/bin/sh -c 'true' next-deploy`},
		{"args", remote.Cmd{Script: `mkdir -p "$1"`, Args: []string{"/app/releases/abc"}},
			`/bin/sh -c 'mkdir -p "$1"' next-deploy '/app/releases/abc'`},
		{"empty arg", remote.Cmd{Script: `echo "$1"`, Args: []string{""}}, `/bin/sh -c 'echo "$1"' next-deploy ''`},
		{"quotes in script", remote.Cmd{Script: `echo 'hi'`, Args: []string{"it's"}},
			`/bin/sh -c 'echo '\''hi'\''' next-deploy 'it'\''s'`},
		{"injection", remote.Cmd{Script: `echo "$1"`, Args: []string{"$(rm -rf ~)", "; reboot"}},
			`/bin/sh -c 'echo "$1"' next-deploy '$(rm -rf ~)' '; reboot'`},
		{"stdin and writers do not matter", remote.Cmd{Script: "cat", Stdin: &bytes.Buffer{}, Stdout: &bytes.Buffer{}},
			`/bin/sh -c 'cat' next-deploy`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := remote.CommandLine(tc.cmd); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
