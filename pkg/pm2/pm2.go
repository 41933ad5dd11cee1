// Package pm2 owns how next-deploy drives pm2 on a server: the ecosystem
// file that fits the release layout (cluster mode, paths through the
// current symlink), marked as next-deploy's with the settings it was made
// from (settings.go), the drain preload every worker loads, and the remote
// operations on one deploy root: inspect the ecosystem, list the running
// workers with the directory each one really runs in (/proc/<pid>/cwd),
// start, reload (watched: a new release that crash-loops is caught while
// the old workers still serve), delete, save, and the zero-downtime
// replacement of a pinned app. Every pm2 command runs from the deploy root,
// never from inside a release: a pruned working directory breaks the
// daemon. The operations are fixed POSIX sh scripts and node programs
// (scripts/, embedded) with quoted arguments.
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

// cmd builds the remote command of one operation: the prelude (which
// takes the deploy root and the pm2 environment), then the operation's
// fixed script and its arguments.
func (r Runner) cmd(script string, args ...string) remote.Cmd {
	return remote.Cmd{Script: prelude + script, Args: append([]string{r.Root, r.Env}, args...)}
}

func (r Runner) run(ctx context.Context, h remote.Host, what, script string, args ...string) ([]byte, error) {
	res, err := h.Run(ctx, r.cmd(script, args...))
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
	// What the app starts with, as the file gives it ("" when unset):
	// PORT and HOSTNAME of env merged with env_<Runner.Env>, pm2's
	// timeouts in milliseconds, the drain in milliseconds.
	Instances     string `json:"instances"`
	Port          string `json:"port"`
	Hostname      string `json:"hostname"`
	ListenTimeout string `json:"listen_timeout"`
	KillTimeout   string `json:"kill_timeout"`
	MaxMemory     string `json:"max_memory_restart"`
	DrainMS       string `json:"drain_ms"`
}

// Site is what Inspect found on a host.
type Site struct {
	// Root is the deploy root with ~ expanded; RealRoot the same with
	// symlinks resolved (what /proc/<pid>/cwd shows).
	Root     string
	RealRoot string
	// Apps are the ecosystem's apps; nil when the file does not exist.
	Apps []App
	// Generated is the config next-deploy wrote the ecosystem from (its
	// marker line), nil for a hand-written file; Untouched reports whether
	// the file is still what was written (see MarkerPrefix).
	Generated *Config
	Untouched bool
	// Sums are the sha256 (hex) of next-deploy's own files found on the
	// host (PreloadPath, MigratePath), by path relative to Root.
	Sums map[string]string
}

// OursToRewrite reports whether the ecosystem is next-deploy's to rewrite: written
// by it and not edited since.
func (s *Site) OursToRewrite() bool { return s.Generated != nil && s.Untouched }

// ecoAnswer is inspect.cjs's answer.
type ecoAnswer struct {
	FirstLine  string `json:"first_line"`
	BodySHA256 string `json:"body_sha256"`
	Apps       []App  `json:"apps"`
}

// InspectCachePath keeps what inspect.cjs read from an ecosystem
// next-deploy wrote, untouched, relative to the root (see inspect.sh).
const InspectCachePath = ".next-deploy/inspect.cache"

// Inspect checks that pm2 and node are there, reads the ecosystem
// (inspect.sh, inspect.cjs; next-deploy's, untouched, from the answer
// kept at InspectCachePath while it stays so) and sums next-deploy's own
// files there.
func (r Runner) Inspect(ctx context.Context, h remote.Host) (*Site, error) {
	out, err := r.run(ctx, h, "inspect ecosystem "+r.Ecosystem, inspectScript, r.Ecosystem, inspectJS, MarkerPrefix, InspectCachePath, PreloadPath, MigratePath)
	if err != nil {
		return nil, err
	}
	s := &Site{Sums: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "\t")
		switch k {
		case "ROOT":
			s.Root = v
		case "REAL":
			s.RealRoot = v
		case "SUM":
			sum, file, _ := strings.Cut(v, "\t")
			s.Sums[file] = sum
		case "ECO":
			var a ecoAnswer
			if err := json.Unmarshal([]byte(v), &a); err != nil {
				return nil, fmt.Errorf("pm2 inspect ecosystem on %s: bad answer %q: %w", h.Name(), v, err)
			}
			s.Apps = a.Apps
			if s.Apps == nil {
				s.Apps = []App{}
			}
			if c, untouched, ok := Generated(a.FirstLine, a.BodySHA256); ok {
				s.Generated, s.Untouched = &c, untouched
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

	// Ready is the drain preload's word on whether the worker's app
	// listens yet (StatusMemory only); nil when the worker has no report,
	// or one that does not say.
	Ready *bool `json:"-"`
	// ListenTimeout is the app's pm2 listen_timeout (0: pm2's default).
	ListenTimeout time.Duration `json:"-"`
	// Answers are the drain preload's counts of the worker's HTTP
	// answers (StatusMemory only); nil when it reports none.
	Answers *Answers `json:"-"`

	// SkewUntil ends the window of a kept app (skew.go); zero for others.
	SkewUntil time.Time `json:"-"`

	StartedMS       int64      `json:"started_ms"`
	SkewUntilMS     int64      `json:"skew_until_ms"`
	ListenTimeoutMS int64      `json:"listen_timeout_ms"`
	Mem             *memReport `json:"mem"`
}

// Key identifies the process across a reload (its pm_id).
func (p Proc) Key() string { return fmt.Sprint(p.ID) }

// findClient sets pm2dir to the install of the pm2 on PATH (through its
// symlink), whose client modules status.cjs asks the daemon with
// ("rpc:${pm2dir%/bin/*}").
const findClient = `
pm2dir=$(readlink -f "$(command -v pm2)" 2>/dev/null || true)`

// statusScript runs status.cjs ($1) on pm2's process list; "--" ends
// node's options, so its arguments ($2...) are the program's, never
// node's. It asks pm2's daemon directly with the client modules of the
// pm2 on PATH (found through its symlink; status.cjs); when status.cjs
// cannot (exit 3), pm2 jlist, which also starts a daemon that is not
// running.
const statusScript = findClient + `
rc=0
node -e "$1" -- "$2" "rpc:${pm2dir%/bin/*}" </dev/null || rc=$?
[ "$rc" -eq 3 ] || exit "$rc"
pm2 jlist 2>/dev/null | node -e "$1" -- "$2"
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

// Workers is the site on h and its workers (Site.Workers), then the
// kept apps' (skew protection, Site.SkewProcs), each with its memory
// report.
func (r Runner) Workers(ctx context.Context, h remote.Host) (*Site, []Proc, error) {
	site, err := r.Inspect(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	ps, err := r.StatusMemory(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	return site, append(site.Workers(ps), site.SkewProcs(ps)...), nil
}

func (r Runner) status(ctx context.Context, h remote.Host, withMem bool) ([]Proc, error) {
	memDir := ""
	if withMem {
		memDir = MemDir
	}
	out, err := r.run(ctx, h, "list processes", statusScript, statusJS, memDir)
	if err != nil {
		return nil, err
	}
	return parseStatus(h, out)
}

// parseStatus reads status.cjs's answer.
func parseStatus(h remote.Host, out []byte) ([]Proc, error) {
	var ps []Proc
	if err := json.Unmarshal(bytes.TrimSpace(out), &ps); err != nil {
		return nil, fmt.Errorf("pm2 list processes on %s: bad answer: %w", h.Name(), err)
	}
	for i := range ps {
		p := &ps[i]
		if p.StartedMS > 0 {
			p.Started = time.UnixMilli(p.StartedMS).UTC()
		}
		p.ListenTimeout = time.Duration(p.ListenTimeoutMS) * time.Millisecond
		if p.SkewUntilMS > 0 {
			p.SkewUntil = time.UnixMilli(p.SkewUntilMS).UTC()
		}
		if p.Mem != nil && p.Mem.PID == p.PID {
			p.Memory = p.Mem.memory()
			p.Ready = p.Mem.Ready
			p.Answers = p.Mem.answers()
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
