package config

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

// field is one key of Settings.
type field struct {
	index int
	key   string // as in the file: health_url
	flag  string // the flag it sets: health-url
}

var fieldsOnce = sync.OnceValue(func() []field {
	var out []field
	t := reflect.TypeFor[Settings]()
	for i := range t.NumField() {
		key := t.Field(i).Tag.Get("yaml")
		out = append(out, field{index: i, key: key, flag: strings.ReplaceAll(key, "_", "-")})
	}
	return out
})

// Keys are every key a settings block may hold, in the order of Settings.
func Keys() []string {
	var keys []string
	for _, f := range fieldsOnce() {
		keys = append(keys, f.key)
	}
	return keys
}

// FlagKeys are the keys that set a flag, by flag name: every key but
// hooks, shared and the secrets.
func FlagKeys() []string {
	var flags []string
	for _, f := range fieldsOnce() {
		if f.setsFlag() {
			flags = append(flags, f.flag)
		}
	}
	return flags
}

func (f field) setsFlag() bool {
	return f.key != "hooks" && f.key != "shared" && secretHints[f.key] == ""
}

// of is the field's value in s, and its meta (nil for hooks).
func (f field) of(s *Settings) (any, *meta) {
	v := reflect.ValueOf(s).Elem().Field(f.index).Addr().Interface()
	if m, ok := v.(interface{ base() *meta }); ok {
		return v, m.base()
	}
	return v, nil
}

// Minimums of whole-number keys, and the durations that must be more
// than 0 (every other duration may be 0, none negative).
var (
	minInt = map[string]int{
		"parallel": 1, "keep": 1, "port": 1,
		"retries": 0, "canary": 0, "keep_days": 0, "stale_minutes": 0, "keepalive": 0,
	}
	positive = []string{"connect_timeout", "health_timeout", "listen_timeout", "kill_timeout"}
	// hostnameRe is an address an app listens on (pm2's HOSTNAME).
	hostnameRe = regexp.MustCompile(`^[A-Za-z0-9.:_-]{1,253}$`)
)

// stringChecks check string values the concepts below know the rules
// of; other values are checked by the command that takes them.
var stringChecks = map[string]func(string) error{
	"path": func(s string) error { _, err := release.NewLayout(s); return err },
	"user": func(s string) error {
		if _, err := inventory.ParseEntry(s + "@host"); err != nil {
			return fmt.Errorf("bad user name %q (letters, digits, '.', '_', '-'; not starting with a digit)", s)
		}
		return nil
	},
	"jump": func(s string) error {
		t, err := inventory.ParseEntry(s)
		if err == nil && t.Local {
			err = fmt.Errorf("\"local\" is not a jump host")
		}
		return err
	},
	"pm2_env":    release.ValidID,
	"name":       release.ValidID,
	"ecosystem":  pm2.CheckEcosystemPath,
	"health_url": func(s string) error { _, err := health.Expand(s, "127.0.0.1"); return err },
	// batch is a count of hosts or a share of them ("25%"), as --batch.
	"batch": func(s string) error { _, err := fleet.ParseShare(s); return err },
}

// check reports every problem of one settings block.
func (f *File) check(s *Settings) []error {
	var errs []error
	add := func(p Pos, key, format string, a ...any) {
		errs = append(errs, f.errorf(p, "%s: %s", key, fmt.Sprintf(format, a...)))
	}
	for _, fl := range fieldsOnce() {
		v, m := fl.of(s)
		if m == nil {
			continue
		}
		for _, p := range m.probs {
			add(p.pos, fl.key, "%s", p.msg)
		}
		if hint := secretHints[fl.key]; hint != "" && m.Set {
			add(m.Pos, fl.key, "a secret never goes in %s (it is read by everyone who reads the repository): %s", FileName, hint)
			continue
		}
		if m.ok() {
			if msg := checkValue(fl.key, v); msg != "" {
				add(m.Pos, fl.key, "%s", msg)
			}
		}
	}
	for _, h := range s.Hooks.all() {
		for _, p := range h.probs {
			add(p.pos, "hooks."+h.name, "%s", p.msg)
		}
		if h.Set && len(h.probs) == 0 && strings.TrimSpace(h.Run) == "" {
			add(h.Pos, "hooks."+h.name, "want a command to run")
		}
	}
	seen := map[string]bool{}
	for i, p := range s.Shared.Paths {
		msg := checkShared(p)
		if msg == "" && seen[path.Clean(p)] {
			msg = "listed twice"
		}
		seen[path.Clean(p)] = true
		if msg != "" {
			add(s.Shared.pos[i], "shared", "%q: %s", p, msg)
		}
	}
	return errs
}

// checkValue checks a value of the right kind against its key's rule.
func checkValue(key string, v any) string {
	var err error
	switch v := v.(type) {
	case *Value[int]:
		if lo, ok := minInt[key]; ok && v.V < lo {
			return fmt.Sprintf("%d: want %d or more", v.V, lo)
		}
		if key == "port" && v.V > 65535 {
			return fmt.Sprintf("%d: want 1-65535", v.V)
		}
	case *Value[time.Duration]:
		switch {
		case v.V < 0:
			return fmt.Sprintf("%s: want 0 or more", v.Text)
		case v.V == 0 && slices.Contains(positive, key):
			return fmt.Sprintf("%s: want more than 0", v.Text)
		}
	case *Value[string]:
		if strings.TrimSpace(v.V) == "" {
			return "empty (leave the key out for the default)"
		}
		if c := stringChecks[key]; c != nil {
			err = c(v.V)
		}
	}
	if err != nil {
		return strings.TrimPrefix(err.Error(), release.ErrInvalid.Error()+": ")
	}
	return ""
}

// checkShared checks one entry of shared: release.CheckShared, the rule
// deliver applies.
func checkShared(p string) string {
	if err := release.CheckShared(p); err != nil {
		return strings.TrimPrefix(err.Error(), release.ErrInvalid.Error()+": ")
	}
	return ""
}

// namedHook is a hook with its key.
type namedHook struct {
	name string
	*Hook
}

func (h *Hooks) all() []namedHook {
	return []namedHook{
		{"before_activate", &h.BeforeActivate},
		{"after_activate", &h.AfterActivate},
		{"pre_deploy", &h.PreDeploy},
		{"post_deploy", &h.PostDeploy},
	}
}
