package pm2

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/release"
)

// Preload is the drain preload (drain.cjs): installed on every host at
// PreloadPath and passed to node by the ecosystem's node_args.
//
//go:embed drain.cjs
var Preload []byte

// Files next-deploy keeps in the deploy root's state directory.
const (
	// PreloadPath is where the drain preload lives, relative to the root.
	PreloadPath = ".next-deploy/drain.cjs"
	// DefaultEcosystem is the ecosystem file, relative to the root.
	DefaultEcosystem = "ecosystem.config.js"
	// MemDir holds the preload's memory report of each worker,
	// mem/<pid>.json, relative to the root.
	MemDir = ".next-deploy/mem"
	// HeapDir is the workers' --diagnostic-dir, where a heap snapshot is
	// written, relative to the root.
	HeapDir = ".next-deploy/heap"
	// HeapSignal makes a worker write a heap snapshot
	// (--heapsnapshot-signal). Not SIGINT or SIGTERM (pm2's stop, the
	// drain), not SIGUSR1 (node's inspector); pm2 uses SIGUSR2 only in its
	// daemon (reloadLogs), never on workers.
	HeapSignal = "SIGUSR2"
)

// Config is what an ecosystem file is made from.
type Config struct {
	// Root is the deploy root: absolute, or ~/dir under the login's home.
	Root string
	// Name is the pm2 app name.
	Name string
	// AppDir is where server.js is inside a release ("" or "apps/web").
	AppDir string
	// Hostname and Port are where the app listens (HOSTNAME, PORT).
	Hostname string
	Port     int
	// Instances is a number of workers or "max" (one per CPU).
	Instances string
	// Envs are the names of the env_<name> blocks (pm2 --env <name>).
	Envs []string
	// ListenTimeout is how long pm2 waits for a new worker's 'ready'
	// before it stops the old one anyway.
	ListenTimeout time.Duration
	// KillTimeout is how long pm2 waits after SIGINT before SIGKILL.
	KillTimeout time.Duration
	// Drain is how long a leaving worker keeps answering with
	// Connection: close before it stops listening.
	Drain time.Duration
	// MaxMemory restarts a worker above this size ("1G", "512M").
	MaxMemory string
}

// Defaults of config pm2 and activate.
var Defaults = Config{
	Name:          "web",
	Hostname:      "127.0.0.1",
	Port:          3000,
	Instances:     "2",
	Envs:          []string{"production"},
	ListenTimeout: 15 * time.Second,
	KillTimeout:   8 * time.Second,
	Drain:         time.Second,
	MaxMemory:     "1G",
}

var (
	nameRe   = release.IDRe // pm2 app names follow the release id rule
	memoryRe = regexp.MustCompile(`^[1-9][0-9]*[KMG]$`)
	hostRe   = regexp.MustCompile(`^[A-Za-z0-9.:_-]{1,253}$`)
)

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !strings.HasPrefix(c.Root, "/") && !strings.HasPrefix(c.Root, "~/") {
		bad("deploy path %q: want an absolute path or ~/dir", c.Root)
	} else if err := release.CheckPathChars(c.Root); err != nil {
		errs = append(errs, err)
	}
	if !nameRe.MatchString(c.Name) {
		bad("app name %q: want letters, digits, '.', '_', '-'", c.Name)
	}
	if c.AppDir != "" && (path.IsAbs(c.AppDir) || path.Clean(c.AppDir) != c.AppDir || strings.HasPrefix(c.AppDir, "..") || !release.PathChars.MatchString(c.AppDir)) {
		bad("app dir %q: want a clean path relative to the release, like apps/web", c.AppDir)
	}
	if !hostRe.MatchString(c.Hostname) {
		bad("hostname %q: want an address like 127.0.0.1", c.Hostname)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port %d: want 1-65535", c.Port)
	}
	if n, err := strconv.Atoi(c.Instances); c.Instances != "max" && (err != nil || n < 1) {
		bad("instances %q: want a number of workers or max", c.Instances)
	}
	for _, e := range c.Envs {
		if !nameRe.MatchString(e) {
			bad("env name %q: want letters, digits, '.', '_', '-'", e)
		}
	}
	if len(c.Envs) == 0 {
		bad("no env names: want at least one, like production")
	}
	if c.ListenTimeout < time.Second {
		bad("listen timeout %s: want 1s or more", clock.Format(c.ListenTimeout))
	}
	if c.KillTimeout < c.Drain+2*time.Second {
		bad("kill timeout %s: want at least the drain (%s) plus 2s for in-flight requests", clock.Format(c.KillTimeout), clock.Format(c.Drain))
	}
	if !memoryRe.MatchString(c.MaxMemory) {
		bad("max memory %q: want a size like 512M or 1G", c.MaxMemory)
	}
	return errors.Join(errs...)
}

// Ecosystem renders the ecosystem file of c: a CommonJS module exporting
// { apps: [...] }, its first line the marker (MarkerPrefix) that carries
// c and the hash of the rest.
func Ecosystem(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := ecosystemTmpl.Execute(&b, ecosystemData(c)); err != nil {
		return nil, err
	}
	body := b.String()
	return []byte(marker(c, []byte(body)) + body), nil
}

type ecoData struct {
	Config
	RootExpr      string
	AppPath       string
	InstancesExpr string
	Listen        int64
	Kill          int64
	DrainMS       string
	GiveUpMS      string
	HeapSignal    string
	FilterEnv     []string
}

func ecosystemData(c Config) ecoData {
	d := ecoData{Config: c, HeapSignal: HeapSignal, FilterEnv: FilterEnv}
	if rel, ok := strings.CutPrefix(c.Root, "~/"); ok {
		d.RootExpr = "require('os').homedir() + " + js("/"+rel)
	} else {
		d.RootExpr = js(c.Root)
	}
	d.AppPath = "/current"
	if c.AppDir != "" {
		d.AppPath += "/" + c.AppDir
	}
	d.InstancesExpr = c.Instances
	if c.Instances == "max" {
		d.InstancesExpr = js("max")
	}
	d.Listen, d.Kill = c.ListenTimeout.Milliseconds(), c.KillTimeout.Milliseconds()
	d.DrainMS = strconv.FormatInt(c.Drain.Milliseconds(), 10)
	// The drain gives up two seconds before pm2's SIGKILL, to exit
	// cleanly: at most a second to leave the cluster (the preload's
	// leaveAfter), a second for the app's own SIGINT handlers (exitGrace).
	// Validate keeps it at least the drain.
	d.GiveUpMS = strconv.FormatInt((c.KillTimeout - 2*time.Second).Milliseconds(), 10)
	return d
}

// FilterEnv are the prefixes of variables pm2 keeps out of every worker
// (filter_env), whatever environment pm2 was started from.
var FilterEnv = []string{"INPUT_", "GITHUB_", "RUNNER_", "ACTIONS_", "NEXT_DEPLOY_SSH_"}

// js quotes s as a JavaScript string literal: the one way a value enters
// generated JavaScript, comments included. json.Marshal escapes quotes,
// control characters and, as it must for JavaScript, U+2028 and U+2029.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var ecosystemTmpl = template.Must(template.New("eco").Funcs(template.FuncMap{"js": js}).Parse(`// pm2 ecosystem for the next-deploy layout under {{js .Root}}
// (written by next-deploy config pm2 or activate).
//
// The first line marks the file as next-deploy's: activate rewrites it
// when its flags ask for other settings (and says so), as long as nothing
// below that line changed. Once you edit it (your variables in an env_
// block) or remove that line, the file is yours: activate never rewrites
// it, and refuses flags that differ from it, naming each difference.
//
// cwd and script go through the current symlink, absolute and unresolved:
// pm2 keeps both exactly as given, so every reload starts the release that
// current points at. Run pm2 from the deploy root, never from inside a
// release:
//   cd {{js .Root}} && pm2 start ecosystem.config.js --env {{js (index .Envs 0)}}
//   cd {{js .Root}} && pm2 reload ecosystem.config.js --env {{js (index .Envs 0)}}
'use strict';

const root = {{.RootExpr}};

module.exports = {
  apps: [
    {
      name: {{js .Name}},
      cwd: root + {{js .AppPath}},
      script: root + {{js (print .AppPath "/server.js")}},
      exec_mode: 'cluster',
      instances: {{.InstancesExpr}},
      // Drain on SIGINT (keep-alive connections closed, in-flight requests
      // answered), 'ready' once the server listens (wait_ready), a memory
      // report for next-deploy status; a heap snapshot on {{.HeapSignal}}
      // into .next-deploy/heap (next-deploy heap-snapshot).
      node_args: [
        '--require', root + '/.next-deploy/drain.cjs',
        '--heapsnapshot-signal={{.HeapSignal}}',
        '--diagnostic-dir=' + root + '/.next-deploy/heap',
      ],
      wait_ready: true,
      listen_timeout: {{.Listen}},
      kill_timeout: {{.Kill}},
      // A worker that crashes at start is retried with a growing delay
      // instead of being given up after 16 quick restarts.
      exp_backoff_restart_delay: 100,
      max_memory_restart: {{js .MaxMemory}},
      // The caller's variables that never belong in the app: a runner's
      // action inputs (the deploy key among them), tokens, and
      // RUNNER_TRACKING_ID (a self-hosted runner kills what carries it).
      filter_env: [{{range $i, $p := .FilterEnv}}{{if $i}}, {{end}}{{js $p}}{{end}}],
      env: {
        NODE_ENV: 'production',
        HOSTNAME: {{js .Hostname}},
        PORT: {{js (print .Port)}},
        NEXT_DEPLOY_DRAIN_MS: {{js .DrainMS}},
        NEXT_DEPLOY_DRAIN_TIMEOUT_MS: {{js .GiveUpMS}},
      },
{{- range .Envs}}
      // pm2 start|reload ecosystem.config.js --env {{js .}}: your variables here.
      {{js (print "env_" .)}}: {
        NEXT_DEPLOY_ENV: {{js .}},
      },
{{- end}}
    },
  ],
};
`))
