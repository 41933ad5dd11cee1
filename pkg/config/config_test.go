package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every bad file is an error that names the place: file:line:column, the
// key and what is wrong, so an editor jumps to it.
func TestBadFilesNameFileLineColumn(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // each error's start, in order
	}{
		{"unknown key", "path: /app\nbogus: 1\n", []string{`next-deploy.yml:2:1: unknown key "bogus"`}},
		{"unknown key in an environment", "environments:\n  staging:\n    batchsize: 2\n", []string{`next-deploy.yml:3:5: unknown key "batchsize"`}},
		{"flag spelling of a key", "health-url: http://x/\n", []string{`next-deploy.yml:1:1: unknown key "health-url" (did you mean health_url?`}},
		{"bad duration", "environments:\n  prod:\n    health_timeout: 90\n", []string{`next-deploy.yml:3:21: health_timeout: want a duration like 30s`}},
		{"negative duration", "pause: -5s\n", []string{`next-deploy.yml:1:8: pause: -5s: want 0 or more`}},
		{"zero timeout", "connect_timeout: 0s\n", []string{`next-deploy.yml:1:18: connect_timeout: 0s: want more than 0`}},
		{"batch 0", "batch: 0\n", []string{`next-deploy.yml:1:8: batch: 0: want 1 or more`}},
		{"batch share over 100%", "batch: 150%\n", []string{`next-deploy.yml:1:8: batch: 150%: want 1% to 100%`}},
		{"batch neither count nor share", "environments:\n  prod:\n    batch: half\n", []string{`next-deploy.yml:3:12: batch: "half": want a number of hosts like 2, or a share of them like 25%`}},
		{"keep 0", "environments:\n  develop:\n    keep: 0\n", []string{`next-deploy.yml:3:11: keep: 0: want 1 or more`}},
		{"wrong type: word for a number", "parallel: lots\n", []string{`next-deploy.yml:1:11: parallel: want a whole number, not "lots"`}},
		{"wrong type: list for a value", "path: [/app]\n", []string{`next-deploy.yml:1:7: path: want a single value, not a list`}},
		{"wrong type: yes for a bool", "fix_pinned: yes\n", []string{`next-deploy.yml:1:13: fix_pinned: want true or false, not "yes"`}},
		{"wrong type: environments as a list", "environments: [staging]\n", []string{`next-deploy.yml:1:15: sequence was used where mapping is expected`}},
		{"secret in the file", "ssh_key: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n", []string{`next-deploy.yml:1:10: ssh_key: a secret never goes in next-deploy.yml`}},
		{"secret in an environment", "environments:\n  prod:\n    github_token: ghp_x\n", []string{`next-deploy.yml:3:19: github_token: a secret never goes in`}},
		{"secret-like unknown key", "db_password: x\n", []string{`next-deploy.yml:1:1: unknown key "db_password": secrets never go in`}},
		{"bad host entry", "hosts:\n  - web1\n  - bad!host\n", []string{`next-deploy.yml:3:5: hosts: hosts entry "bad!host": not a host name`}},
		{"bad host port", "hosts:\n  - host: web1\n    port: 70000\n", []string{`next-deploy.yml:2:5: hosts: hosts entry "web1:70000": bad port`}},
		{"unknown key in a host", "hosts:\n  - host: web1\n    ssh_port: 22\n", []string{`next-deploy.yml:3:5: hosts: unknown key "ssh_port" in a host`}},
		{"duplicate host", "hosts: [web1, WEB1]\n", []string{`next-deploy.yml:1:15: hosts: WEB1:22 is listed twice (first at line 1)`}},
		{"bad app port", "hosts:\n  - {host: web1, app_port: 0}\n", []string{`next-deploy.yml:2:28: hosts: app_port "0": want 1-65535`}},
		{"relative deploy path", "path: app\n", []string{`next-deploy.yml:1:7: path: deploy path "app": must be absolute`}},
		{"jump local", "jump: local\n", []string{`next-deploy.yml:1:7: jump: "local" is not a jump host`}},
		{"empty hook", "hooks:\n  before_activate: \"  \"\n", []string{`next-deploy.yml:2:20: hooks.before_activate: want a command to run`}},
		{"unknown hook", "hooks:\n  before_deploy: x\n", []string{`next-deploy.yml:2:3: unknown key "before_deploy"`}},
		{"bad hook timeout", "hooks:\n  after_activate:\n    run: ./warm.sh\n    timeout: soon\n", []string{`next-deploy.yml:4:14: hooks.after_activate: timeout: want a duration`}},
		{"shared outside the app", "shared:\n  - .env.production\n  - ../etc/passwd\n  - /etc/hosts\n", []string{
			`next-deploy.yml:3:5: shared: "../etc/passwd": must not contain '..'`,
			`next-deploy.yml:4:5: shared: "/etc/hosts": want a path relative`,
		}},
		{"bad environment name", "environments:\n  \"pro duction\": {}\n", []string{`next-deploy.yml:2:3: environment "pro duction": want letters`}},
		{"duplicate key", "batch: 1\nbatch: 2\n", []string{`next-deploy.yml:2:1: mapping key "batch" already defined`}},
		{"two documents", "batch: 1\n---\nbatch: 2\n", []string{`next-deploy.yml:3:`}},
		{"every bad value at once", "batch: 0\nkeep: x\nenvironments:\n  s:\n    pause: 1y\n", []string{
			`next-deploy.yml:1:8: batch`, `next-deploy.yml:2:7: keep`, `next-deploy.yml:5:12: pause`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(FileName, []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.src)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], w)
				}
			}
		})
	}
}

func TestUnknownEnvironmentNamesTheOnesThereAre(t *testing.T) {
	f, err := Parse(FileName, []byte("path: /app\nenvironments:\n  staging: {}\n  production: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Resolve("prod")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Resolve(prod) = %v, want an *Error", err)
	}
	if want := `next-deploy.yml:2:1: no environment "prod" (the file has: staging, production)`; err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	f, _ = Parse(FileName, []byte("path: /app\n"))
	if _, err := f.Resolve("staging"); err == nil || !strings.HasPrefix(err.Error(), "next-deploy.yml:1:1: ") || !strings.Contains(err.Error(), "no environments") {
		t.Errorf("no environments: %v", err)
	}
}

const sample = `# shared by every environment
path: /srv/shop
user: deploy
known_hosts_file: keys/known_hosts
batch: 1
hooks:
  before_activate: npm run migrate
  post_deploy: {run: ./notify.sh, timeout: 30s}
shared: [.env.production, public/uploads/]
environments:
  staging:
    hosts: [web-staging]
    batch: 2
    pm2_env: staging
  production:
    hosts:
      - deploy@web1.example.com
      - host: web2.example.com
        port: 2222
        app_port: 3001
      - local
    jump: bastion.example.com
    batch: 25%
    hooks:
      before_activate: {run: npm run migrate -- --prod, timeout: 5m}
    shared: [.env.production]
`

func TestResolveOverridesSharedKeyByKey(t *testing.T) {
	f, err := Parse(filepath.Join("app", FileName), []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, []string{"staging", "production"}) {
		t.Errorf("environments %v: want the file's order", got)
	}
	st, err := f.Resolve("staging")
	if err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]Setting{
		"path":             {Key: "path", Flag: "path", Value: "/srv/shop", Pos: Pos{2, 7}},
		"batch":            {Key: "batch", Flag: "batch", Value: "2", Pos: Pos{13, 12}, Env: "staging"},
		"pm2-env":          {Key: "pm2_env", Flag: "pm2-env", Value: "staging", Pos: Pos{14, 14}, Env: "staging"},
		"hosts":            {Key: "hosts", Flag: "hosts", Value: "web-staging", Pos: Pos{12, 12}, Env: "staging"},
		"known-hosts-file": {Key: "known_hosts_file", Flag: "known-hosts-file", Value: filepath.Join("app", "keys", "known_hosts"), Pos: Pos{4, 19}},
	} {
		if got := st.Values[flag]; got != want {
			t.Errorf("%s = %+v, want %+v", flag, got, want)
		}
	}
	if _, ok := st.Values["jump"]; ok {
		t.Error("staging has production's jump")
	}
	if st.Hooks.BeforeActivate.Run != "npm run migrate" || st.Hooks.PostDeploy.Timeout != 30*time.Second || st.Hooks.AfterActivate.Set {
		t.Errorf("staging hooks = %+v", st.Hooks)
	}
	if !slices.Equal(st.Shared, []string{".env.production", "public/uploads/"}) {
		t.Errorf("staging shared = %v", st.Shared)
	}

	pr, err := f.Resolve("production")
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, h := range pr.Hosts {
		hosts = append(hosts, h.String())
	}
	if want := []string{"deploy@web1.example.com:22", "web2.example.com:2222", "local"}; !slices.Equal(hosts, want) {
		t.Errorf("production hosts %v, want %v", hosts, want)
	}
	if pr.Hosts[1].AppPort != 3001 || pr.Hosts[0].AppPort != 0 {
		t.Errorf("app_port override lost: %+v", pr.Hosts)
	}
	if got := pr.Values["hosts"].Value; got != "deploy@web1.example.com,web2.example.com:2222,local" {
		t.Errorf("hosts as a flag value = %q", got)
	}
	if h := pr.Hooks.BeforeActivate; h.Run != "npm run migrate -- --prod" || h.Timeout != 5*time.Minute {
		t.Errorf("production before_activate = %+v, want its own", h)
	}
	if got := pr.Values["batch"].Value; got != "25%" {
		t.Errorf("production batch = %q, want the share 25%% as --batch takes it", got)
	}
	if pr.Hooks.PostDeploy.Run != "./notify.sh" {
		t.Errorf("production lost the shared post_deploy: %+v", pr.Hooks.PostDeploy)
	}
	if !slices.Equal(pr.Shared, []string{".env.production"}) {
		t.Errorf("production shared = %v: want its own list", pr.Shared)
	}

	shared, err := f.Resolve("")
	if err != nil || shared.Values["batch"].Value != "1" || shared.Hosts != nil {
		t.Errorf("Resolve(\"\") = %+v, %v: want the shared settings alone", shared, err)
	}
}

func TestLocalPathsAreRelativeToTheFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	f, err := Parse("/etc/app/next-deploy.yml", []byte("ssh_config: ~/.ssh/config\nknown_hosts_file: kh\nssh_key_file: /k\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.Resolve("")
	for flag, want := range map[string]string{
		"ssh-config":       filepath.Join(home, ".ssh", "config"),
		"known-hosts-file": "/etc/app/kh",
		"ssh-key-file":     "/k",
	} {
		if got := r.Values[flag].Value; got != want {
			t.Errorf("%s = %q, want %q", flag, got, want)
		}
	}
}

func TestEmptyFileAndEmptyEnvironment(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "environments:\n  staging:\n"} {
		f, err := Parse(FileName, []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if _, err := f.Resolve(""); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

// The keys are the flags' names: a key maps to --key with '-' for '_'.
func TestFlagKeys(t *testing.T) {
	flags := FlagKeys()
	for _, want := range []string{"hosts", "health-url", "known-hosts-file", "pm2-env", "keep"} {
		if !slices.Contains(flags, want) {
			t.Errorf("FlagKeys lacks %s", want)
		}
	}
	for _, not := range []string{"hooks", "shared", "ssh-key", "github-token"} {
		if slices.Contains(flags, not) {
			t.Errorf("FlagKeys has %s", not)
		}
	}
	if !IsSecret("ssh-passphrase") || IsSecret("ssh-key-file") {
		t.Error("IsSecret")
	}
}

// docs/config.md shows a full file: it must parse, every key of Settings
// must appear in it, and every environment must resolve.
func TestDocExampleIsAValidFile(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(# next-deploy.yml.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/config.md has no ```yaml block starting with # next-deploy.yml")
	}
	f, err := Parse("docs/config.md", m[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if secretHints[k] != "" {
			continue
		}
		if !regexp.MustCompile(`(?m)^\s*(- )?#?\s*` + k + `:`).Match(m[1]) {
			t.Errorf("the example does not show %s", k)
		}
	}
	for _, e := range f.Names() {
		if _, err := f.Resolve(e); err != nil {
			t.Error(err)
		}
	}
}
