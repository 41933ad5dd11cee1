package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/next-deploy/pkg/inventory"
)

// Resolved is the file seen from one environment: what it sets, where
// each value comes from.
type Resolved struct {
	// File is the file's name as given.
	File string
	// Env is the environment, "" for the shared settings alone.
	Env string
	// Values are the flags the file sets, by flag name ("health-url"),
	// as a flag takes them.
	Values map[string]Setting
	// Hosts are the targets with their per-host overrides; nil when the
	// file names no hosts.
	Hosts []inventory.Target
	// Hooks are the environment's hooks over the shared ones, hook by
	// hook (Set tells which are given).
	Hooks Hooks
	// Shared are the shared files and directories, nil for none.
	Shared []string
}

// Setting is one value of the file.
type Setting struct {
	// Key is the key in the file (health_url); Flag the flag it sets.
	Key, Flag string
	// Value is the value as a flag takes it.
	Value string
	// Pos is where the file gives it; Env the environment block that
	// does ("" for the shared settings).
	Pos Pos
	Env string
}

// localPaths are keys naming files on this machine: relative to the
// file's directory, ~/ for the home directory (no shell expands them).
var localPaths = map[string]bool{"known_hosts_file": true, "ssh_key_file": true, "ssh_config": true}

// Resolve is the file for environment env ("": the shared settings only).
// An environment the file does not have is an *Error naming the ones it
// has.
func (f *File) Resolve(env string) (*Resolved, error) {
	r := &Resolved{File: f.Name, Env: env, Values: map[string]Setting{}}
	var over *Settings
	if env != "" {
		e := f.Env(env)
		if e == nil {
			return nil, f.errorf(f.envsPos, "no environment %q (%s)", env, f.has())
		}
		over = &e.Settings
	}
	for _, fl := range fieldsOnce() {
		v, m, from := fl.pick(&f.Shared, over, env)
		if m == nil || !m.Set {
			continue
		}
		switch v := v.(type) {
		case *Hosts:
			r.Hosts = v.Targets
		case *Shared:
			r.Shared = v.Paths
		}
		if !fl.setsFlag() {
			continue
		}
		text := m.Text
		if localPaths[fl.key] {
			text = f.localPath(text)
		}
		r.Values[fl.flag] = Setting{Key: fl.key, Flag: fl.flag, Value: text, Pos: m.Pos, Env: from}
	}
	r.Hooks = f.Shared.Hooks
	if over != nil {
		for i, h := range over.Hooks.all() {
			if h.Set {
				*r.Hooks.all()[i].Hook = *h.Hook
			}
		}
	}
	return r, nil
}

// pick is the field from the environment's block when it gives it, else
// from the shared one.
func (fl field) pick(shared, over *Settings, env string) (any, *meta, string) {
	if over != nil {
		if v, m := fl.of(over); m != nil && m.Set {
			return v, m, env
		}
	}
	v, m := fl.of(shared)
	return v, m, ""
}

func (f *File) has() string {
	if len(f.Environments) == 0 {
		return "the file has no environments: section"
	}
	return "the file has: " + strings.Join(f.Names(), ", ")
}

// localPath makes p, a local file named in the file, usable from the
// current directory.
func (f *File) localPath(p string) string {
	if p == "-" || filepath.IsAbs(p) {
		return p
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
		return p
	}
	return filepath.Join(f.Dir(), p)
}

// Where is "next-deploy.yml:12" (the environment's block or the shared
// settings), for config show.
func (s Setting) Where(file string) string {
	return fmt.Sprintf("%s:%d", file, s.Pos.Line)
}
