package pm2

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/golden"
)

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

func ecoCases() map[string]Config {
	def := Defaults
	def.Root = "/app"
	home := Defaults
	home.Root, home.Name, home.AppDir, home.Instances = "~/app", "shop", "apps/web", "max"
	home.Envs = []string{"production", "staging", "my-env"}
	home.Hostname, home.Port = "127.0.0.11", 3000
	home.ListenTimeout, home.KillTimeout, home.Drain, home.MaxMemory = 30*time.Second, 10*time.Second, 2*time.Second, "512M"
	return map[string]Config{"default.config.js": def, "monorepo-home.config.js": home}
}

func TestEcosystemGolden(t *testing.T) {
	for name, c := range ecoCases() {
		t.Run(name, func(t *testing.T) {
			got, err := Ecosystem(c)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, got)
		})
	}
}

func needNode(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed")
		}
		t.Skip("node not installed")
	}
	return bin
}

// The ecosystem is a CommonJS module that node loads, exporting what pm2
// reads: absolute, unresolved paths through current, cluster mode,
// wait_ready and the preload.
func TestEcosystemLoadsInNode(t *testing.T) {
	node := needNode(t)
	home := t.TempDir()
	for name, c := range ecoCases() {
		file := filepath.Join(t.TempDir(), "ecosystem.config.js")
		b, _ := Ecosystem(c)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "-e", "process.stdout.write(JSON.stringify(require(process.argv[1])))", "--", file)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: node: %v", name, err)
		}
		var got struct {
			Apps []map[string]any `json:"apps"`
		}
		if err := json.Unmarshal(out, &got); err != nil || len(got.Apps) != 1 {
			t.Fatalf("%s: %s: %v", name, out, err)
		}
		a := got.Apps[0]
		root := c.Root
		if strings.HasPrefix(root, "~/") {
			root = home + root[1:]
		}
		cur := root + "/current"
		if c.AppDir != "" {
			cur += "/" + c.AppDir
		}
		for k, want := range map[string]any{
			"name": c.Name, "cwd": cur, "script": cur + "/server.js", "exec_mode": "cluster", "wait_ready": true,
		} {
			if a[k] != want {
				t.Errorf("%s: %s = %v, want %v", name, k, a[k], want)
			}
		}
		want := []any{"--require", root + "/" + PreloadPath, "--heapsnapshot-signal=" + HeapSignal, "--diagnostic-dir=" + root + "/" + HeapDir}
		if args, _ := a["node_args"].([]any); fmt.Sprint(args) != fmt.Sprint(want) {
			t.Errorf("%s: node_args = %v, want %v (the preload, heap snapshots into the state dir)", name, a["node_args"], want)
		}
		for _, e := range c.Envs {
			if _, ok := a["env_"+e]; !ok {
				t.Errorf("%s: no env_%s block", name, e)
			}
		}
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := Config{Root: "app", Name: "a b", AppDir: "/x", Hostname: "h;x", Port: 0, Instances: "0",
		Envs: []string{"pro duction"}, ListenTimeout: 0, KillTimeout: time.Second, Drain: time.Second, MaxMemory: "lots"}
	err := c.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"deploy path", "app name", "app dir", "hostname", "port", "instances", "env name", "listen timeout", "kill timeout", "max memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestCheckEcosystemPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"ecosystem.config.js": true, "deploy/pm2.config.js": true,
		"": false, "/etc/eco.js": false, "../eco.js": false,
		"current/ecosystem.config.js": false, "releases/abc/ecosystem.config.js": false,
	} {
		if err := CheckEcosystemPath(p); (err == nil) != ok {
			t.Errorf("CheckEcosystemPath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

// Regression (issue 13): the template put the raw deploy path in comments,
// and a U+2028 or a newline in --path ran as JavaScript when pm2 loaded
// the ecosystem. Such a path is refused; every value in the file is quoted.
func TestEcosystemRefusesPathsThatWouldBeCode(t *testing.T) {
	for _, root := range []string{"/srv/a\u2028x=1//", "/srv/a\nprocess.exit(1)//", "/srv/a b", "~/a'b"} {
		c := Defaults
		c.Root, c.Envs = root, []string{"production"}
		if out, err := Ecosystem(c); err == nil {
			t.Errorf("Ecosystem accepted root %q:\n%s", root, out)
		}
	}
	c := Defaults
	c.Root, c.Envs = "/srv/app", []string{"production"}
	out, err := Ecosystem(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), " /srv/app") {
		t.Errorf("the deploy path appears unquoted:\n%s", out)
	}
}
