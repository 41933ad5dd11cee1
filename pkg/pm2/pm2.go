// Package pm2 owns how next-deploy drives pm2 on a server: the ecosystem
// file that fits the release layout (cluster mode, paths through the
// current symlink), the drain preload every worker loads, and the remote
// operations on one deploy root: inspect the ecosystem, list the running
// workers with the directory each one really runs in (/proc/<pid>/cwd),
// start, reload (watched: a new release that crash-loops is caught while
// the old workers still serve), delete, save, and the zero-downtime
// replacement of a pinned app. Every pm2 command runs from the deploy root,
// never from inside a release: a pruned working directory breaks the
// daemon.
package pm2

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// Runner runs pm2 for one deploy root.
type Runner struct {
	// Root is the deploy root as given (/app or ~/app).
	Root string
	// Ecosystem is the ecosystem file, relative to Root or absolute.
	Ecosystem string
	// Env is the pm2 environment (--env <name>); "" for none.
	Env string
}

// prelude starts every script: strict mode, the deploy root from $1 with a
// leading ~ expanded, the pm2 environment name from $2 (used by pm2env),
// fail for messages, pm2 run from the root. Scripts see their own
// arguments as $1...
const prelude = `set -eu
root=$1 env=$2; shift 2
case $root in "~/"*) root=$HOME/${root#"~/"} ;; esac
fail() { printf '%s\n' "$*" >&2; exit 1; }
command -v pm2 >/dev/null 2>&1 || fail "pm2 is not installed for $(id -un) (not on PATH): install it with npm install -g pm2"
command -v node >/dev/null 2>&1 || fail "node is not installed for $(id -un) (not on PATH)"
cd "$root" 2>/dev/null || fail "deploy path $root does not exist: deliver a release first"
pm2env() { if [ -n "$env" ]; then pm2 "$@" --env "$env"; else pm2 "$@"; fi; }
`

func (r Runner) run(ctx context.Context, h remote.Host, what, script string, args ...string) ([]byte, error) {
	c := remote.Cmd{Script: prelude + script, Args: append([]string{r.Root, r.Env}, args...)}
	res, err := h.Run(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("pm2 %s in %s on %s: %w", what, r.Root, h.Name(), err)
	}
	return res.Stdout, nil
}

// App is an app as the ecosystem file defines it, with cwd and script
// resolved the way pm2 resolves them (relative to the deploy root, the
// directory pm2 runs in; symlinks are not resolved).
type App struct {
	Name     string `json:"name"`
	Cwd      string `json:"cwd"`
	Script   string `json:"script"`
	ExecMode string `json:"exec_mode"`
}

// Site is what Inspect found on a host.
type Site struct {
	// Root is the deploy root with ~ expanded; RealRoot the same with
	// symlinks resolved (what /proc/<pid>/cwd shows).
	Root     string
	RealRoot string
	// Apps are the ecosystem's apps; nil when the file does not exist.
	Apps []App
}

// ecosystemJS prints the apps of the ecosystem file $1 as JSON.
const ecosystemJS = `
const path = require('path');
let c = require(path.resolve(process.argv[1]));
const apps = Array.isArray(c) ? c : (c && Array.isArray(c.apps) ? c.apps : [c]);
process.stdout.write(JSON.stringify(apps.map((a) => {
  const cwd = a.cwd ? path.resolve(a.cwd) : process.cwd();
  return {
    name: String(a.name || ''),
    cwd: cwd,
    script: a.script ? path.resolve(cwd, String(a.script)) : '',
    exec_mode: String(a.exec_mode || a.execMode || (a.instances ? 'cluster' : 'fork')),
  };
})) + '\n');
`

const inspectScript = `
eco=$1
printf 'ROOT\t%s\n' "$root"
printf 'REAL\t%s\n' "$(pwd -P)"
if [ ! -f "$eco" ]; then
	echo NOECO
	exit 0
fi
apps=$(node -e "$2" "$eco") || fail "cannot load the ecosystem file $eco in $root: see the error above"
printf 'APPS\t%s\n' "$apps"
`

// Inspect checks that pm2 and node are there and reads the ecosystem.
func (r Runner) Inspect(ctx context.Context, h remote.Host) (*Site, error) {
	out, err := r.run(ctx, h, "inspect ecosystem "+r.Ecosystem, inspectScript, r.Ecosystem, ecosystemJS)
	if err != nil {
		return nil, err
	}
	s := &Site{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "\t")
		switch k {
		case "ROOT":
			s.Root = v
		case "REAL":
			s.RealRoot = v
		case "APPS":
			if err := json.Unmarshal([]byte(v), &s.Apps); err != nil {
				return nil, fmt.Errorf("pm2 inspect ecosystem on %s: bad answer %q: %w", h.Name(), v, err)
			}
			if s.Apps == nil {
				s.Apps = []App{}
			}
		}
	}
	if s.Root == "" || s.RealRoot == "" {
		return nil, fmt.Errorf("pm2 inspect ecosystem on %s: unexpected answer %q", h.Name(), out)
	}
	return s, nil
}

// Proc is one pm2 process (a cluster worker).
type Proc struct {
	ID       any    `json:"id"`
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	Status   string `json:"status"`
	Restarts int    `json:"restarts"`
	Unstable int    `json:"unstable"`
	Mode     string `json:"mode"`
	// Cwd and Script are the paths pm2 keeps, as given at start.
	Cwd    string `json:"cwd"`
	Script string `json:"script"`
	// RealCwd is where the process really is: /proc/<pid>/cwd.
	RealCwd string `json:"real_cwd"`
	// RSS is pm2's measure of the process's resident memory (monit).
	RSS int64 `json:"rss"`
	// Started is when pm2 last started the process (pm_uptime).
	Started time.Time `json:"-"`
	// Memory is the drain preload's report (StatusMemory only); nil when
	// the worker has none (started without the preload, or MEM_MS=0).
	Memory *Memory `json:"-"`

	StartedMS int64      `json:"started_ms"`
	Mem       *memReport `json:"mem"`
}

// Key identifies the process across a reload (its pm_id).
func (p Proc) Key() string { return fmt.Sprint(p.ID) }

// statusJS reads pm2 jlist on stdin and prints the fields we use (not
// the environment: it may hold secrets) plus /proc/<pid>/cwd.
const statusJS = `
const fs = require('fs');
const withMem = process.argv[1] === 'mem';
const memDir = process.argv[2];
let s = '';
process.stdin.on('data', (d) => { s += d; }).on('end', () => {
  let list = null;
  for (const line of s.split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try { list = JSON.parse(line); break; } catch (e) { /* a banner line */ }
  }
  if (!list) {
    console.error('pm2 jlist gave no process list: ' + s.slice(0, 300));
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(list.map((p) => {
    const e = p.pm2_env || {};
    let real = '';
    try { if (p.pid) real = fs.readlinkSync('/proc/' + p.pid + '/cwd'); } catch (err) { /* gone */ }
    let mem = null;
    if (withMem && p.pid) {
      try { mem = JSON.parse(fs.readFileSync(memDir + '/' + p.pid + '.json', 'utf8')); } catch (err) { /* none */ }
    }
    return {
      id: p.pm_id, name: p.name, pid: p.pid || 0, status: e.status || '',
      restarts: e.restart_time || 0, unstable: e.unstable_restarts || 0,
      mode: e.exec_mode || '', cwd: e.pm_cwd || '', script: e.pm_exec_path || '', real_cwd: real,
      rss: (p.monit && p.monit.memory) || 0, started_ms: e.pm_uptime || 0, mem: mem,
    };
  })) + '\n');
  if (withMem) {
    // Reports of processes that died without removing theirs (SIGKILL).
    try {
      for (const f of fs.readdirSync(memDir)) {
        const pid = parseInt(f, 10);
        if (pid > 0 && !fs.existsSync('/proc/' + pid)) fs.unlinkSync(memDir + '/' + f);
      }
    } catch (err) { /* no reports */ }
  }
});
`

const statusScript = `
pm2 jlist 2>/dev/null | node -e "$1" "$2" "$3"
`

// Status lists the processes pm2 runs for this login.
func (r Runner) Status(ctx context.Context, h remote.Host) ([]Proc, error) {
	return r.status(ctx, h, false)
}

// StatusMemory is Status with each worker's memory report (Proc.Memory)
// read from MemDir.
func (r Runner) StatusMemory(ctx context.Context, h remote.Host) ([]Proc, error) {
	return r.status(ctx, h, true)
}

// Workers is the site on h and its workers (Site.Workers), each with
// its memory report.
func (r Runner) Workers(ctx context.Context, h remote.Host) (*Site, []Proc, error) {
	site, err := r.Inspect(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	ps, err := r.StatusMemory(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	return site, site.Workers(ps), nil
}

func (r Runner) status(ctx context.Context, h remote.Host, withMem bool) ([]Proc, error) {
	mem := ""
	if withMem {
		mem = "mem"
	}
	out, err := r.run(ctx, h, "list processes", statusScript, statusJS, mem, MemDir)
	if err != nil {
		return nil, err
	}
	var ps []Proc
	if err := json.Unmarshal(bytes.TrimSpace(out), &ps); err != nil {
		return nil, fmt.Errorf("pm2 list processes on %s: bad answer: %w", h.Name(), err)
	}
	for i := range ps {
		p := &ps[i]
		if p.StartedMS > 0 {
			p.Started = time.UnixMilli(p.StartedMS).UTC()
		}
		if p.Mem != nil && p.Mem.PID == p.PID {
			p.Memory = p.Mem.memory()
		}
		p.Mem = nil
	}
	return ps, nil
}

const actionScript = `
pm2env "$1" "$2"
`

// Start starts the ecosystem's apps (pm2 start <ecosystem> --env <env>).
// With wait_ready, pm2 returns once the workers are ready.
func (r Runner) Start(ctx context.Context, h remote.Host) error {
	_, err := r.run(ctx, h, "start "+r.Ecosystem, actionScript, "start", r.Ecosystem)
	return err
}

// ReloadOnce is the reload invocation the bed test proves: pm2 reload
// <ecosystem> --env <env>, run from the deploy root. New workers start
// from the paths pm2 keeps (through current), each old one is stopped
// once its replacement is ready. Use Reload, which watches it.
func (r Runner) ReloadOnce(ctx context.Context, h remote.Host) error {
	_, err := r.run(ctx, h, "reload "+r.Ecosystem, actionScript, "reload", r.Ecosystem)
	return err
}

const deleteScript = `
pm2 delete "$1"
`

// Delete stops and removes an app (its workers get SIGINT: they drain).
func (r Runner) Delete(ctx context.Context, h remote.Host, name string) error {
	_, err := r.run(ctx, h, "delete "+name, deleteScript, name)
	return err
}

const saveScript = `
pm2 save
`

// Save stores the process list, so pm2 resurrect (at boot) starts it.
func (r Runner) Save(ctx context.Context, h remote.Host) error {
	_, err := r.run(ctx, h, "save", saveScript)
	return err
}
