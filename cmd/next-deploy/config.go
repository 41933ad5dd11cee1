package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
)

type configCmd struct {
	path   string
	appDir string
	app    pm2Flags
	// nginx
	listen     string
	serverName string
	upstream   string
	keepalive  int
	basePath   string
	// show
	flags *flag.FlagSet
}

func (*configCmd) Name() string { return "config" }
func (*configCmd) Synopsis() string {
	return "print the nginx pieces (config nginx), the pm2 ecosystem (config pm2) or the drain preload (config preload) that fit the layout; or every setting and where it comes from (config show --env NAME)"
}

// pm2Flags are the flags an ecosystem file is made from: config pm2, and
// activate for a host that has no ecosystem yet.
type pm2Flags struct {
	name          string
	hostname      string
	port          int
	instances     string
	envs          string
	listenTimeout time.Duration
	killTimeout   time.Duration
	drain         time.Duration
	maxMemory     string
	// fs is the flag set they are registered on (see given).
	fs *flag.FlagSet
}

func (f *pm2Flags) register(fs *flag.FlagSet, withEnvs bool) {
	f.fs = fs
	d := pm2.Defaults
	fs.StringVar(&f.name, "name", d.Name, "pm2 app name")
	fs.StringVar(&f.hostname, "hostname", d.Hostname, "address the app listens on (HOSTNAME)")
	fs.IntVar(&f.port, "port", d.Port, "port the app listens on (PORT)")
	fs.StringVar(&f.instances, "instances", d.Instances, "cluster workers: a number, or max (one per CPU)")
	if withEnvs {
		fs.StringVar(&f.envs, "envs", strings.Join(d.Envs, ","), "names of the env_<name> blocks (pm2 --env <name>), comma-separated")
	}
	fs.DurationVar(&f.listenTimeout, "listen-timeout", d.ListenTimeout, "pm2 listen_timeout: how long a new worker may take to be ready")
	fs.DurationVar(&f.killTimeout, "kill-timeout", d.KillTimeout, "pm2 kill_timeout: SIGKILL this long after SIGINT")
	fs.DurationVar(&f.drain, "drain", d.Drain, "how long a leaving worker answers with Connection: close before it stops listening")
	fs.StringVar(&f.maxMemory, "max-memory", d.MaxMemory, "pm2 max_memory_restart")
}

// given names the flags set on the command line or from an action input:
// only those change or are checked against an existing ecosystem
// (activate.Real.Given), by the names pm2.Settings uses.
func (f *pm2Flags) given() map[string]bool {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// config builds the ecosystem config; envs overrides --envs when set.
func (f *pm2Flags) config(root, appDir string, envs []string) pm2.Config {
	if envs == nil {
		for e := range strings.SplitSeq(f.envs, ",") {
			if e = strings.TrimSpace(e); e != "" {
				envs = append(envs, e)
			}
		}
	}
	return pm2.Config{
		Root: root, Name: f.name, AppDir: appDir, Hostname: f.hostname, Port: f.port,
		Instances: f.instances, Envs: envs, ListenTimeout: f.listenTimeout,
		KillTimeout: f.killTimeout, Drain: f.drain, MaxMemory: f.maxMemory,
	}
}

func (c *configCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "path", "/app", "deploy root on the servers (nginx needs it absolute)")
	fs.StringVar(&c.appDir, "app-dir", "", "where server.js is inside a release, for monorepos (apps/web)")
	c.app.register(fs, true)
	d := nginx.Defaults
	fs.StringVar(&c.listen, "listen", d.Listen, "nginx: listen port or address:port")
	fs.StringVar(&c.serverName, "server-name", d.ServerName, "nginx: server_name")
	fs.StringVar(&c.upstream, "upstream", "", "nginx: the app's address (default --hostname:--port)")
	fs.IntVar(&c.keepalive, "keepalive", d.Keepalive, "nginx: idle connections kept to the app")
	fs.StringVar(&c.basePath, "base-path", "", "nginx: next.config's basePath (/docs), as given to build-standalone: the app and its assets are served under it")
	cli.JSONFlag(fs) // config show
	registerSettings(fs)
	c.flags = fs
}

// Args implements cli.ArgsTaker.
func (*configCmd) Args() string { return "nginx|pm2|preload|show [flags]" }

// ArgWords implements cli.ArgWorder (shell completion).
func (*configCmd) ArgWords() []string { return []string{"nginx", "pm2", "preload", "show"} }

func (c *configCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) == 0 {
		return cli.Usagef("want one of: config nginx, config pm2, config preload, config show")
	}
	if len(args) > 1 {
		return cli.Usagef("unexpected arguments %q after config %s", args[1:], args[0])
	}
	var out []byte
	var err error
	switch args[0] {
	case "pm2":
		out, err = pm2.Ecosystem(c.app.config(c.path, c.appDir, nil))
	case "nginx":
		up := c.upstream
		if up == "" {
			up = net.JoinHostPort(c.app.hostname, strconv.Itoa(c.app.port))
		}
		out, err = nginx.Render(nginx.Config{
			Root: c.path, AppDir: c.appDir, Listen: c.listen, ServerName: c.serverName,
			Upstream: up, Keepalive: c.keepalive, BasePath: c.basePath,
		})
	case "preload":
		out = pm2.Preload
	case "show":
		return c.show(env)
	default:
		return cli.Usagef("config %q: want nginx, pm2, preload or show", args[0])
	}
	if err != nil {
		return cli.Usage(fmt.Errorf("config %s: %w", args[0], err))
	}
	_, err = env.Stdout.Write(out)
	return err
}
