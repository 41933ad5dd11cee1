package pm2

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/next-deploy/pkg/remote"
)

// fakePM2Install lays out a pm2 install in a temporary directory:
// bin/pm2 (on PATH, a symlink as npm makes it) whose jlist lists an app
// named jlistName, and, with daemon, the client modules pm2 keeps in
// modules/ whose getMonitorData answers an app named daemonName, and the
// daemon's rpc.sock in PM2_HOME.
func fakePM2Install(t *testing.T, daemon bool) {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, body string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("lib/node_modules/pm2/bin/pm2", "#!/bin/sh\n[ \"$1\" = jlist ] && printf '%s\\n' '"+procJSON(jlistName)+"'\nexit 0\n", 0o755)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../lib/node_modules/pm2/bin/pm2", filepath.Join(dir, "bin", "pm2")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "pm2home")
	write("pm2home/.keep", "", 0o644)
	if daemon {
		write("lib/node_modules/pm2/modules/pm2-axon/index.js", `const { EventEmitter } = require('events');
exports.socket = () => { const s = new EventEmitter(); s.connect = () => s; s.close = () => {}; return s; };
`, 0o644)
		write("lib/node_modules/pm2/modules/pm2-axon-rpc/index.js", `exports.Client = function (sock) {
  this.call = (method, args, cb) => setImmediate(() => method === 'getMonitorData' ? cb(null, `+procJSON(daemonName)+`) : cb(new Error('no method ' + method)));
};
`, 0o644)
		write("pm2home/rpc.sock", "", 0o644)
	}
	t.Setenv("PM2_HOME", home)
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
}

const jlistName, daemonName = "from-jlist", "from-daemon"

func procJSON(name string) string {
	return `[{"pm_id":0,"name":"` + name + `","pid":0,"pm2_env":{"status":"online","exec_mode":"cluster_mode","pm_id":0,"instances":2}}]`
}

// Issue 15 item 3: a look at the workers asks pm2's daemon with pm2's own
// client modules (one small node process) instead of starting pm2's CLI
// for pm2 jlist; where that cannot be done, pm2 jlist as before.
func TestStatusAsksTheDaemonDirectly(t *testing.T) {
	needNode(t)
	for _, c := range []struct {
		daemon bool
		want   string
	}{{true, daemonName}, {false, jlistName}} {
		t.Run(c.want, func(t *testing.T) {
			fakePM2Install(t, c.daemon)
			r := Runner{Root: t.TempDir(), Ecosystem: DefaultEcosystem}
			for _, mem := range []bool{false, true} {
				ps, err := r.status(context.Background(), remote.NewLocal(), mem)
				if err != nil {
					t.Fatal(err)
				}
				if got := names(ps); len(got) != 1 || got[0] != c.want {
					t.Errorf("status (memory %v) lists %v, want [%s]", mem, got, c.want)
				}
			}
		})
	}
}

func names(ps []Proc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}
