package main

import (
	"cmp"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
)

// registerSettings adds to fs every flag of the other commands that
// next-deploy.yml sets or that is a secret, so config show takes them as
// those commands do and says where each value comes from.
func registerSettings(fs *flag.FlagSet) {
	keys := map[string]bool{}
	for _, k := range config.FlagKeys() {
		keys[k] = true
	}
	for _, cmd := range newApp().Commands {
		if cmd.Name() == "config" {
			continue
		}
		scratch := flag.NewFlagSet(cmd.Name(), flag.ContinueOnError)
		cmd.SetFlags(scratch)
		scratch.VisitAll(func(f *flag.Flag) {
			if fs.Lookup(f.Name) == nil && (keys[f.Name] || cli.SecretFlags[f.Name] != "") {
				fs.Var(f.Value, f.Name, "config show: "+f.Usage)
			}
		})
	}
}

// shown is what config show reports.
type shown struct {
	File     string         `json:"file,omitempty"`
	Env      string         `json:"env,omitempty"`
	Settings []shownSetting `json:"settings"`
	Hosts    []shownHost    `json:"hosts,omitempty"`
	Hooks    []shownHook    `json:"hooks,omitempty"`
	Shared   []string       `json:"shared,omitempty"`
}

type shownSetting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	From  string `json:"from"`
}

type shownHost struct {
	Host      string `json:"host"`
	AppListen string `json:"app_listen,omitempty"`
}

type shownHook struct {
	Hook    string `json:"hook"`
	Run     string `json:"run"`
	Timeout string `json:"timeout"`
	From    string `json:"from"`
}

// show reports every setting with its value and where it came from (a
// flag, an input or variable, the file's line, the default); secrets as
// *** when set. Then the file's hosts, hooks and shared files.
func (c *configCmd) show(env *cli.Env) error {
	r := env.Config()
	var out shown
	title := "settings (no " + config.FileName + ")"
	if r != nil {
		out.File, out.Env = r.File, r.Env
		title = "settings from " + r.File
		if r.Env != "" {
			title = "settings of " + r.Env + " from " + r.File
		}
	}
	t := &cli.Table{Title: title, Header: []string{"setting", "value", "from"}}
	for _, key := range config.Keys() {
		name := strings.ReplaceAll(key, "_", "-")
		f := c.flags.Lookup(name)
		if f == nil {
			continue // hooks, shared: below
		}
		s := shownSetting{Key: key, Value: showValue(f.Value.String(), config.IsSecret(name)), From: env.Source(name).String()}
		out.Settings = append(out.Settings, s)
		t.Add(s.Key, orDash(s.Value), s.From)
	}
	tables := []*cli.Table{t}
	if r != nil {
		tables = append(tables, out.fileParts(env, r, c.app.hostname, c.app.port)...)
	}
	return env.Report(out, tables...)
}

// showValue is a value fit for one table cell; a secret is "***".
func showValue(v string, secret bool) string {
	switch {
	case secret && v != "":
		return "***"
	case strings.Contains(strings.TrimSpace(v), "\n"):
		return fmt.Sprintf("(%d lines)", strings.Count(strings.TrimSpace(v), "\n")+1)
	}
	return v
}

// fileParts are the hosts (when the file gave them; where each one's app
// listens, when not on hostname:port like the others), hooks and shared
// files of the file.
func (out *shown) fileParts(env *cli.Env, r *config.Resolved, hostname string, port int) []*cli.Table {
	var tables []*cli.Table
	if r.Hosts != nil && env.Source("hosts").Kind == cli.FromFile {
		t := &cli.Table{Title: "hosts", Header: []string{"host", "app listens on"}}
		for _, h := range r.Hosts {
			s := shownHost{Host: h.String()}
			if h.AppHostname != "" || h.AppPort != 0 {
				s.AppListen = net.JoinHostPort(cmp.Or(h.AppHostname, hostname), strconv.Itoa(cmp.Or(h.AppPort, port)))
			}
			out.Hosts = append(out.Hosts, s)
			t.Add(s.Host, orDash(s.AppListen))
		}
		tables = append(tables, t)
	}
	hooks := []struct {
		name string
		h    config.Hook
	}{{"before_activate", r.Hooks.BeforeActivate}, {"after_activate", r.Hooks.AfterActivate}, {"pre_deploy", r.Hooks.PreDeploy}, {"post_deploy", r.Hooks.PostDeploy}}
	t := &cli.Table{Title: "hooks", Header: []string{"hook", "run", "timeout", "from"}}
	for _, x := range hooks {
		if !x.h.Set {
			continue
		}
		timeout := config.DefaultHookTimeout.String() + " (default)"
		if x.h.Timeout > 0 {
			timeout = x.h.Timeout.String()
		}
		s := shownHook{Hook: x.name, Run: x.h.Run, Timeout: timeout, From: fmt.Sprintf("%s:%d", r.File, x.h.Pos.Line)}
		out.Hooks = append(out.Hooks, s)
		t.Add(s.Hook, s.Run, s.Timeout, s.From)
	}
	if len(t.Rows) > 0 {
		tables = append(tables, t)
	}
	if out.Shared = r.Shared; len(r.Shared) > 0 {
		st := &cli.Table{Title: "shared files", Header: []string{"path"}}
		for _, p := range r.Shared {
			st.Add(p)
		}
		tables = append(tables, st)
	}
	return tables
}
