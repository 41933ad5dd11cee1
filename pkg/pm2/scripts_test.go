package pm2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// scripts are the embedded files by name, as scripts/ holds them.
var scripts = map[string]string{
	"prelude.sh":        prelude,
	"inspect.sh":        inspectScript,
	"inspect.cjs":       inspectJS,
	"status.cjs":        statusJS,
	"write.sh":          writeScript,
	"migrate.sh":        migrateScript,
	"migrate.config.js": migrateJS,
	"skew-start.sh":     skewStartScript,
	"skew-state.cjs":    skewStateJS,
	"skew-end.sh":       skewEndScript,
	"skew-clean.sh":     skewCleanScript,
	"skew.config.js":    skewConfigJS,
}

// Every file in scripts/ is embedded (test/run.sh lints what ships) and
// none is empty. shellcheck itself runs in test/run.sh.
func TestScriptsAreEmbedded(t *testing.T) {
	des, err := os.ReadDir("scripts")
	if err != nil {
		t.Fatal(err)
	}
	var files, names []string
	for _, de := range des {
		files = append(files, de.Name())
	}
	for name, text := range scripts {
		names = append(names, name)
		if strings.TrimSpace(text) == "" {
			t.Errorf("scripts/%s is empty", name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(files, names) {
		t.Errorf("scripts/ holds %q, embedded are %q", files, names)
	}
}

// answering is a fake host that records the commands it runs and
// answers by script.
type answering struct {
	remote.Local
	answers map[string]string
	cmds    []remote.Cmd
}

func (a *answering) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	a.cmds = append(a.cmds, c)
	return &remote.Result{Stdout: []byte(a.answers[strings.TrimPrefix(c.Script, prelude)])}, nil
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The commands are data: the embedded files after the prelude, and the
// arguments in the order the scripts read them.
func TestCommands(t *testing.T) {
	r := Runner{Root: "~/app", Ecosystem: "ecosystem.config.js", Env: "production"}
	ctx := context.Background()
	jlist := `[{"id":0,"name":"web","pid":1,"status":"online","mode":"cluster_mode"},{"id":1,"name":"web-skew-r1","pid":2,"status":"online","mode":"cluster_mode"}]`
	answers := map[string]string{
		inspectScript: "ROOT\t/home/u/app\nREAL\t/home/u/app\nNOECO\n",
		statusScript:  jlist + "\n",
		writeScript:   "WROTE\n",
	}
	type cmd struct {
		script string
		args   []string
	}
	for _, tc := range []struct {
		name string
		run  func(h remote.Host) error
		want []cmd
	}{
		{"inspect", func(h remote.Host) error { _, err := r.Inspect(ctx, h); return err },
			[]cmd{{inspectScript, []string{"ecosystem.config.js", inspectJS, MarkerPrefix, ".next-deploy/inspect.cache", ".next-deploy/drain.cjs", ".next-deploy/migrate.config.js"}}}},
		{"status", func(h remote.Host) error { _, err := r.Status(ctx, h); return err },
			[]cmd{{statusScript, []string{statusJS, ""}}}},
		{"status with memory", func(h remote.Host) error { _, err := r.StatusMemory(ctx, h); return err },
			[]cmd{{statusScript, []string{statusJS, ".next-deploy/mem"}}}},
		{"start", func(h remote.Host) error { return r.Start(ctx, h) },
			[]cmd{{actionScript, []string{"start", "ecosystem.config.js"}}}},
		{"reload", func(h remote.Host) error { return r.ReloadOnce(ctx, h) },
			[]cmd{{actionScript, []string{"reload", "ecosystem.config.js"}}}},
		{"watched reload", func(h remote.Host) error {
			_, err := r.Reload(ctx, h, &Site{Apps: []App{{Name: "web"}}}, Watch{})
			return err
		},
			[]cmd{{statusScript, []string{statusJS, ""}}, {actionScript, []string{"reload", "ecosystem.config.js"}}}},
		// Issue 15 item 3: the caller's list (activate takes it while it
		// writes the files) spares a look before the reload.
		{"watched reload, the list before given", func(h remote.Host) error {
			_, err := r.Reload(ctx, h, &Site{Apps: []App{{Name: "web"}}}, Watch{Before: []Proc{{ID: 0, Name: "web", PID: 1, Status: "online"}}})
			return err
		}, []cmd{{actionScript, []string{"reload", "ecosystem.config.js"}}}},
		{"delete", func(h remote.Host) error { return r.Delete(ctx, h, "web") },
			[]cmd{{deleteScript, []string{"web"}}}},
		{"save", func(h remote.Host) error { return r.Save(ctx, h) },
			[]cmd{{saveScript, nil}}},
		{"install", func(h remote.Host) error { _, err := r.Install(ctx, h, []byte("eco")); return err },
			[]cmd{
				{writeScript, []string{".next-deploy/drain.cjs", "replace", sha(Preload)}},
				{writeScript, []string{".next-deploy/migrate.config.js", "replace", sha([]byte(migrateJS))}},
				{writeScript, []string{"ecosystem.config.js", "create", sha([]byte("eco"))}},
			}},
		// Issue 15 item 3: a file of ours that Inspect found as this
		// version writes it is not written again; one that differs is.
		{"install on a host that has the preload", func(h remote.Host) error {
			s := &Site{Sums: map[string]string{PreloadPath: sha(Preload), MigratePath: sha([]byte("older"))}}
			_, err := r.InstallOn(ctx, h, s, nil)
			return err
		}, []cmd{{writeScript, []string{".next-deploy/migrate.config.js", "replace", sha([]byte(migrateJS))}}}},
		{"start a kept app", func(h remote.Host) error {
			s := &Site{Root: "/home/u/app", Apps: []App{{Name: "web", Cwd: "/home/u/app/current", Script: "/home/u/app/current/server.js"}}}
			return r.StartKept(ctx, h, s, Keep{App: s.Apps[0], Release: "r1", Until: time.UnixMilli(1700000000000)})
		}, []cmd{
			{writeScript, []string{".next-deploy/skew.config.js", "replace", sha([]byte(skewConfigJS))}},
			{skewStartScript, []string{"ecosystem.config.js", "web", "web-skew-r1", "r1", "/home/u/app/releases/r1", "/home/u/app/releases/r1/server.js",
				"1", "1700000000000", ".next-deploy/skew/r1.d/http.sock", ".next-deploy/skew.config.js", ".next-deploy/drain.cjs", skewStateJS}},
			{statusScript, []string{statusJS, ""}},
		}},
		{"end a kept app", func(h remote.Host) error { return r.EndKept(ctx, h, Kept{Name: "web-skew-r1", Release: "r1"}) },
			[]cmd{{skewEndScript, []string{"web-skew-r1", ".next-deploy/skew/r1.d"}}}},
		{"clean kept apps' directories", func(h remote.Host) error { return r.CleanSockets(ctx, h, []string{"r2"}) },
			[]cmd{{skewCleanScript, []string{".next-deploy/skew", ".d", "r2"}}}},
	} {
		h := &answering{answers: answers}
		if err := tc.run(h); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []cmd
		for _, c := range h.cmds {
			rest, ok := strings.CutPrefix(c.Script, prelude)
			if !ok || len(c.Args) < 2 || c.Args[0] != "~/app" || c.Args[1] != "production" {
				t.Errorf("%s: command without the prelude, root and env: %q", tc.name, c.Args)
				continue
			}
			got = append(got, cmd{rest, c.Args[2:]})
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: ran %d commands, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i].script != tc.want[i].script || !slices.Equal(got[i].args, tc.want[i].args) {
				t.Errorf("%s: command %d = %q %q, want %q %q", tc.name, i, got[i].script, got[i].args, tc.want[i].script, tc.want[i].args)
			}
		}
	}
}

// The stand-in of a migration starts from the helper ecosystem, named by
// MigratePath in Go only.
func TestMigrateCommand(t *testing.T) {
	r := Runner{Root: "/app", Ecosystem: "ecosystem.config.js"}
	h := &answering{answers: map[string]string{statusScript: "[]\n"}}
	_ = r.Migrate(context.Background(), h, &Site{Root: "/app"}, "web")
	var found bool
	for _, c := range h.cmds {
		if c.Script == prelude+migrateScript {
			found = true
			if want := []string{"/app", "", "ecosystem.config.js", "web", "web" + MigratingSuffix, MigratePath}; !slices.Equal(c.Args, want) {
				t.Errorf("migrate args = %q, want %q", c.Args, want)
			}
		}
	}
	if !found {
		t.Error("Migrate did not run migrate.sh")
	}
}

// stubPM2 puts a pm2 first on PATH that prints jlist for pm2 jlist: the
// scripts run with node but need no pm2 daemon.
func stubPM2(t *testing.T, jlist string) {
	t.Helper()
	bin := t.TempDir()
	stub := "#!/bin/sh\n[ \"$1\" = jlist ] && printf '%s\\n' '" + jlist + "'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "pm2"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Regression guard: node -e <program> <path> took an ecosystem path that
// starts with "-" as one of node's own options ("bad option", or worse,
// --require). inspect.sh passes "--" first.
func TestInspectEcosystemPathIsNotANodeOption(t *testing.T) {
	needNode(t)
	stubPM2(t, "[]")
	for _, eco := range []string{"--eco.config.js", "-e", "--require=x.js"} {
		root := t.TempDir()
		body := "module.exports = { apps: [{ name: 'web', cwd: '" + root + "/current', script: 'server.js', exec_mode: 'cluster' }] };\n"
		if err := os.WriteFile(filepath.Join(root, eco), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		r := Runner{Root: root, Ecosystem: eco}
		s, err := r.Inspect(context.Background(), remote.NewLocal())
		if err != nil {
			t.Errorf("Inspect with ecosystem %q: %v", eco, err)
			continue
		}
		if len(s.Apps) != 1 || s.Apps[0].Name != "web" || s.Apps[0].Script != root+"/current/server.js" {
			t.Errorf("Inspect with ecosystem %q: apps %+v, want web from %s/current", eco, s.Apps, root)
		}
	}
}

// status.cjs reads a worker's memory report from the directory Go names
// (MemDir), only when asked, and removes the reports of dead processes.
func TestStatusReadsMemoryReportsFromMemDir(t *testing.T) {
	pid := os.Getpid()
	needNode(t)
	stubPM2(t, fmt.Sprintf(`[{"pm_id":0,"name":"web","pid":%d,"pm2_env":{"status":"online","exec_mode":"cluster_mode","pm_cwd":"/app/current"},"monit":{"memory":1000}}]`, pid))
	root := t.TempDir()
	dir := filepath.Join(root, MemDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	report := fmt.Sprintf(`{"v":1,"pid":%d,"every":1000,"heap_limit":100,"fine":[[1700000000000,10,5,8]]}`, pid)
	for name, body := range map[string]string{fmt.Sprint(pid): report, "999999999": report} {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := Runner{Root: root, Ecosystem: DefaultEcosystem}
	ctx := context.Background()
	ps, err := r.Status(ctx, remote.NewLocal())
	if err != nil || len(ps) != 1 || ps[0].Memory != nil || ps[0].RSS != 1000 {
		t.Fatalf("Status = %+v, %v; want one worker without memory", ps, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "999999999.json")); err != nil {
		t.Errorf("Status without memory touched the reports: %v", err)
	}
	ps, err = r.StatusMemory(ctx, remote.NewLocal())
	if err != nil || len(ps) != 1 || ps[0].Memory == nil || ps[0].Memory.Last.HeapUsed != 5 {
		t.Fatalf("StatusMemory = %+v, %v; want the worker's report", ps, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "999999999.json")); !os.IsNotExist(err) {
		t.Errorf("the report of a dead process is still there: %v", err)
	}
}

// Issue 15 item 3: Inspect sums next-deploy's own files on the host (for
// InstallOn), the ones there only, whether or not there is an ecosystem.
func TestInspectSumsOurFiles(t *testing.T) {
	needNode(t)
	stubPM2(t, "[]")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".next-deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, PreloadPath), []byte("preload"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Runner{Root: root, Ecosystem: DefaultEcosystem}.Inspect(context.Background(), remote.NewLocal())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{PreloadPath: sha([]byte("preload"))}; !reflect.DeepEqual(s.Sums, want) {
		t.Errorf("Sums = %v, want %v", s.Sums, want)
	}
}

// Issue 15 item 3: the answer for an ecosystem next-deploy wrote,
// untouched, is kept and given again without node (a kept answer made
// different here shows it is the one given); an edited or hand-written
// ecosystem is read by node every time, and nothing is kept for it.
func TestInspectKeepsTheAnswerOfAnUntouchedEcosystem(t *testing.T) {
	needNode(t)
	stubPM2(t, "[]")
	ctx := context.Background()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".next-deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Defaults
	c.Root = root
	eco, err := Ecosystem(c)
	if err != nil {
		t.Fatal(err)
	}
	file, cache := filepath.Join(root, DefaultEcosystem), filepath.Join(root, InspectCachePath)
	r := Runner{Root: root, Ecosystem: DefaultEcosystem, Env: "production"}
	name := func(what string) string {
		t.Helper()
		s, err := r.Inspect(ctx, remote.NewLocal())
		if err != nil || len(s.Apps) != 1 {
			t.Fatalf("%s: %v, %+v", what, err, s)
		}
		return s.Apps[0].Name
	}
	for _, tc := range []struct {
		what, file string
		kept       bool // the answer is kept
		want       string
	}{
		{"untouched", string(eco), true, "kept"},
		{"edited", string(eco) + "// mine\n", false, "web"},
		{"hand-written", "module.exports = { apps: [{ name: 'web', cwd: '" + root + "/current', script: 'server.js', exec_mode: 'cluster' }] };\n", false, "web"},
	} {
		os.Remove(cache)
		if err := os.WriteFile(file, []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := name(tc.what + ", first"); got != "web" {
			t.Fatalf("%s: first inspect names %q, want web", tc.what, got)
		}
		b, err := os.ReadFile(cache)
		if (err == nil) != tc.kept {
			t.Fatalf("%s: answer kept %v (%v), want %v", tc.what, err == nil, err, tc.kept)
		}
		if tc.kept {
			if err := os.WriteFile(cache, bytes.Replace(b, []byte(`"name":"web"`), []byte(`"name":"kept"`), 1), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := name(tc.what + ", again"); got != tc.want {
			t.Errorf("%s: inspect again names %q, want %q", tc.what, got, tc.want)
		}
	}
}
