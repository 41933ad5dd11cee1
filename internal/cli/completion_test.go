package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// shellCmd takes a word, as config and completion do.
type shellCmd struct{}

func (shellCmd) Name() string     { return "render" }
func (shellCmd) Synopsis() string { return "render a config: nginx's or pm2's [for a host]" }
func (shellCmd) SetFlags(fs *flag.FlagSet) {
	fs.String("name", "web", `app name: it's "web" by default [see pm2]`)
	fs.Bool("dry-run", false, "say, do nothing")
}
func (shellCmd) Args() string                              { return "nginx|pm2" }
func (shellCmd) ArgWords() []string                        { return []string{"nginx", "pm2"} }
func (shellCmd) Run(context.Context, *Env, []string) error { return nil }

func completionApp() *App {
	return &App{Name: "nd", Commands: []Command{&echoCmd{}, shellCmd{}}}
}

func script(t *testing.T, shell string) string {
	t.Helper()
	var b bytes.Buffer
	if err := completionApp().Completion(&b, shell); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCompletionScriptsNameEveryCommandAndFlag(t *testing.T) {
	for _, shell := range Shells {
		s := script(t, shell)
		for _, want := range []string{"echo", "render", "hosts", "known-hosts-count", "dry-run", "nginx pm2"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		// A secret on the command line is refused: never offered.
		if strings.Contains(s, "ssh-key") {
			t.Errorf("%s script offers --ssh-key", shell)
		}
	}
	if err := completionApp().Completion(&bytes.Buffer{}, "tcsh"); ExitStatus(err) != ExitUsage {
		t.Errorf("completion tcsh: %v, want bad input", err)
	}
}

// The bash script answers what bash asks: commands, a command's flags, a
// command's words, and nothing (file names) after a flag that takes a
// value.
func TestBashCompletionCompletes(t *testing.T) {
	bash := lookTool(t, "bash")
	file := filepath.Join(t.TempDir(), "nd.bash")
	if err := os.WriteFile(file, []byte(script(t, "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		line string // the words typed, the last one being completed
		want string
	}{
		{"nd ec", "echo"},
		{"nd ", "echo render help --help --version"},
		{"nd echo --ho", "--hosts"},
		{"nd echo -", "--config --env --hosts --known-hosts-count"},
		{"nd render ", "nginx pm2"},
		{"nd render --name ", ""},
		{"nd render -name ", ""},
		{"nd render --dry-run ", ""}, // a bool flag takes no value; no word after the first
		{"nd help re", "render"},
		{"nd nope --", ""},
	} {
		words := strings.Split(tc.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, shQuote(w))
		}
		prog := `source "$1"; COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=` + strconv.Itoa(len(words)-1) +
			`; _nd; echo "${COMPREPLY[*]}"`
		out, err := exec.Command(bash, "-c", prog, "bash", file).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
}

// zsh and fish check their scripts' syntax where they are installed (not
// needed in CI: the scripts are generated like the bash one).
func TestZshAndFishScriptsParse(t *testing.T) {
	for _, tc := range []struct {
		shell string
		check []string
	}{
		{"zsh", []string{"-n"}},
		{"fish", []string{"--no-execute"}},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			path, err := exec.LookPath(tc.shell)
			if err != nil {
				t.Skipf("%s not installed", tc.shell)
			}
			file := filepath.Join(t.TempDir(), "nd."+tc.shell)
			if err := os.WriteFile(file, []byte(script(t, tc.shell)), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(path, append(tc.check, file)...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", tc.shell, tc.check, err, out)
			}
		})
	}
}

func TestShort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hosts: a list; or local", "hosts: a list"},
		{"how long (like 10m)", "how long"},
		{"target hosts, comma-separated", "target hosts, comma-separated"},
		{"upload a packed release to every host, verified and atomic, next to the running one",
			"upload a packed release to every host, verified and atomic, next..."},
		{strings.Repeat("x", 80), strings.Repeat("x", 67) + "..."},
	} {
		if got := short(tc.in); got != tc.want {
			t.Errorf("short(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}
