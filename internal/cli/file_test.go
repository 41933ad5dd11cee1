package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/config"
)

// deployCmd has flags the file can set (hosts, path, batch, pause), a
// secret, and one the file has no key for; it prints each value and where
// it came from.
type deployCmd struct {
	hosts, path, key string
	batch, other     int
	pause            time.Duration
}

func (*deployCmd) Name() string     { return "deploy" }
func (*deployCmd) Synopsis() string { return "print settings" }
func (c *deployCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.hosts, "hosts", "", "hosts")
	fs.StringVar(&c.path, "path", "/app", "path")
	fs.IntVar(&c.batch, "batch", 1, "batch")
	fs.DurationVar(&c.pause, "pause", 0, "pause")
	fs.StringVar(&c.key, "ssh-key", "", "key")
	fs.IntVar(&c.other, "other", 7, "not a key of the file")
}
func (c *deployCmd) Run(_ context.Context, env *Env, _ []string) error {
	for _, x := range []struct{ name, v string }{
		{"hosts", c.hosts}, {"path", c.path}, {"batch", fmt.Sprint(c.batch)}, {"pause", c.pause.String()}, {"other", fmt.Sprint(c.other)},
	} {
		fmt.Fprintf(env.Stdout, "%s=%s (%s)\n", x.name, x.v, env.Source(x.name))
	}
	return nil
}

// plainCmd has no flag the file can set.
type plainCmd struct{}

func (plainCmd) Name() string                              { return "plain" }
func (plainCmd) Synopsis() string                          { return "no settings" }
func (plainCmd) SetFlags(*flag.FlagSet)                    {}
func (plainCmd) Run(context.Context, *Env, []string) error { return nil }

// keep is a key deploy has no flag for: not used by it, and no error.
const precedenceFile = `path: /srv/shared
batch: 2
pause: 5s
environments:
  staging:
    hosts: [web1, web2]
    path: /srv/staging
    keep: 3
`

// inDir runs the test in a new directory holding next-deploy.yml (when
// content is not empty).
func inDir(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if content != "" {
		if err := os.WriteFile(config.FileName, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runDeploy(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := NewEnv(&out, &errb, nil, func(k string) string { return env[k] }, "t")
	app := &App{Name: "nd", Commands: []Command{&deployCmd{}, plainCmd{}}}
	return app.Main(context.Background(), e, args), out.String(), errb.String()
}

// flag > environment variable / action input > file > default.
func TestPrecedenceFlagInputFileDefault(t *testing.T) {
	inDir(t, precedenceFile)
	actions := map[string]string{"GITHUB_ACTIONS": "true", "INPUT_PATH": "/srv/input", "INPUT_HOSTS": "web9"}
	status, out, stderr := runDeploy(actions, "deploy", "--env", "staging", "--hosts", "flag-host")
	if status != ExitOK {
		t.Fatalf("status %d: %s", status, stderr)
	}
	want := `hosts=flag-host (flag)
path=/srv/input (input path)
batch=2 (next-deploy.yml:2)
pause=5s (next-deploy.yml:3)
other=7 (default)
`
	if !strings.HasSuffix(out, want) {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// The environment's block beats the shared one; outside Actions no
	// input counts.
	_, out, _ = runDeploy(map[string]string{"INPUT_PATH": "/srv/input"}, "deploy", "-e", "staging")
	for _, w := range []string{"hosts=web1,web2 (next-deploy.yml:6)", "path=/srv/staging (next-deploy.yml:7)"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	// Without --env, the shared settings alone; NEXT_DEPLOY_ENV chooses
	// one as --env does.
	if _, out, _ = runDeploy(nil, "deploy"); !strings.Contains(out, "path=/srv/shared (next-deploy.yml:1)") || !strings.Contains(out, "hosts= (default)") {
		t.Errorf("shared settings:\n%s", out)
	}
	if _, out, _ = runDeploy(map[string]string{EnvVar: "staging"}, "deploy"); !strings.Contains(out, "path=/srv/staging") {
		t.Errorf("NEXT_DEPLOY_ENV:\n%s", out)
	}
}

func TestConfigFileFromFlagOrVariable(t *testing.T) {
	dir := inDir(t, "")
	other := filepath.Join(dir, "elsewhere.yml")
	if err := os.WriteFile(other, []byte("batch: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"deploy", "--config", other}},
		{map[string]string{ConfigVar: other}, []string{"deploy"}},
	} {
		status, out, stderr := runDeploy(tc.env, tc.args...)
		if status != ExitOK || !strings.Contains(out, "batch=4 ("+other+":1)") {
			t.Errorf("%v %v: status %d\n%s%s", tc.env, tc.args, status, out, stderr)
		}
	}
}

func TestFileErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		args       []string
		want       string
	}{
		{"--env and no file", "", []string{"deploy", "--env", "staging"}, "--env staging: no next-deploy.yml in "},
		{"unknown environment", precedenceFile, []string{"deploy", "--env", "prod"}, `next-deploy.yml:4:1: no environment "prod" (the file has: staging)`},
		{"secret in the file", "ssh_key: abc\n", []string{"deploy"}, "next-deploy.yml:1:10: ssh_key: a secret never goes in next-deploy.yml"},
		{"unknown key", "bacth: 2\n", []string{"deploy"}, `next-deploy.yml:1:1: unknown key "bacth"`},
		{"--config missing", "", []string{"deploy", "--config", "nope.yml"}, "read config: open nope.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := inDir(t, tc.file)
			status, _, stderr := runDeploy(nil, tc.args...)
			if status != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("status %d, want 2, stderr mentioning %q:\n%s", status, tc.want, stderr)
			}
			if tc.file == "" && strings.HasPrefix(tc.want, "--env") && !strings.Contains(stderr, dir) {
				t.Errorf("the error does not say where it looked (%s):\n%s", dir, stderr)
			}
		})
	}
}

// A command none of whose flags the file sets does not read it: a broken
// file does not stop version or build.
func TestCommandWithoutSettingsIgnoresTheFile(t *testing.T) {
	inDir(t, "bogus: [\n")
	if status, _, stderr := runDeploy(nil, "plain"); status != ExitOK {
		t.Errorf("status %d: %s", status, stderr)
	}
	if status, _, _ := runDeploy(nil, "plain", "--env", "x"); status != ExitUsage {
		t.Errorf("--env with a broken file: status %d, want 2", status)
	}
}

// Every secret flag is a key the file refuses, with the variable to use.
func TestSecretFlagsAreRefusedByTheFile(t *testing.T) {
	for name, v := range SecretFlags {
		if !config.IsSecret(name) {
			t.Errorf("--%s is a secret flag but next-deploy.yml would take it", name)
		}
		key := strings.ReplaceAll(name, "-", "_")
		_, err := config.Parse(config.FileName, []byte(key+": x\n"))
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("%s in the file: %v, want an error naming %s", key, err, v)
		}
	}
}

type wordsCmd struct {
	name  string
	words []string
}

func (*wordsCmd) Name() string                { return "words" }
func (*wordsCmd) Synopsis() string            { return "takes words" }
func (*wordsCmd) Args() string                { return "WORD..." }
func (c *wordsCmd) SetFlags(fs *flag.FlagSet) { fs.StringVar(&c.name, "name", "", "name") }
func (c *wordsCmd) Run(_ context.Context, _ *Env, args []string) error {
	c.words = args
	return nil
}

// An ArgsTaker takes flags after its words too (config show --env x).
func TestFlagsAfterWords(t *testing.T) {
	inDir(t, "")
	for _, tc := range []struct {
		args  []string
		name  string
		words []string
	}{
		{[]string{"show", "--name", "a"}, "a", []string{"show"}},
		{[]string{"--name", "a", "show", "x"}, "a", []string{"show", "x"}},
		{[]string{"show", "--", "--name", "b"}, "", []string{"show", "--name", "b"}},
	} {
		c := &wordsCmd{}
		app := &App{Name: "nd", Commands: []Command{c}}
		var out bytes.Buffer
		e := NewEnv(&out, &out, nil, func(string) string { return "" }, "t")
		if st := app.Main(context.Background(), e, append([]string{"words"}, tc.args...)); st != ExitOK {
			t.Fatalf("%q: status %d: %s", tc.args, st, out.String())
		}
		if c.name != tc.name || strings.Join(c.words, " ") != strings.Join(tc.words, " ") {
			t.Errorf("%q: name %q words %q, want %q %q", tc.args, c.name, c.words, tc.name, tc.words)
		}
	}
}
