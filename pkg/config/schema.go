package config

import (
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/org/next-deploy/pkg/inventory"
)

// Settings are the keys of the file, at the top (shared by every
// environment) and in each environment (overriding the shared ones key by
// key). A plain key is named like the flag it sets, '-' written '_':
// health_url sets --health-url. The order here is the order of
// `next-deploy config show`.
type Settings struct {
	// Where the fleet is and how to reach it.
	Hosts          Hosts                `yaml:"hosts"`
	Path           Value[string]        `yaml:"path"`
	User           Value[string]        `yaml:"user"`
	Jump           Value[string]        `yaml:"jump"`
	KnownHosts     Value[string]        `yaml:"known_hosts"`
	KnownHostsFile Value[string]        `yaml:"known_hosts_file"`
	SSHKeyFile     Value[string]        `yaml:"ssh_key_file"`
	SSHAgent       Value[bool]          `yaml:"ssh_agent"`
	SSHConfig      Value[string]        `yaml:"ssh_config"`
	ConnectTimeout Value[time.Duration] `yaml:"connect_timeout"`
	Parallel       Value[int]           `yaml:"parallel"`

	// The app under pm2.
	PM2Env        Value[string]        `yaml:"pm2_env"`
	Ecosystem     Value[string]        `yaml:"ecosystem"`
	AppDir        Value[string]        `yaml:"app_dir"`
	Name          Value[string]        `yaml:"name"`
	Hostname      Value[string]        `yaml:"hostname"`
	Port          Value[int]           `yaml:"port"`
	Instances     Value[string]        `yaml:"instances"`
	Envs          Value[string]        `yaml:"envs"`
	ListenTimeout Value[time.Duration] `yaml:"listen_timeout"`
	KillTimeout   Value[time.Duration] `yaml:"kill_timeout"`
	Drain         Value[time.Duration] `yaml:"drain"`
	MaxMemory     Value[string]        `yaml:"max_memory"`

	// The rollout.
	HealthURL      Value[string]        `yaml:"health_url"`
	HealthTimeout  Value[time.Duration] `yaml:"health_timeout"`
	Batch          Value[string]        `yaml:"batch"`
	Pause          Value[time.Duration] `yaml:"pause"`
	Canary         Value[int]           `yaml:"canary"`
	CanaryTime     Value[time.Duration] `yaml:"canary_time"`
	OnFailure      Value[string]        `yaml:"on_failure"`
	FixPinned      Value[bool]          `yaml:"fix_pinned"`
	BreakLockAfter Value[time.Duration] `yaml:"break_lock_after"`
	Watch          Value[time.Duration] `yaml:"watch"`

	// Delivery and pruning.
	Retries      Value[int]           `yaml:"retries"`
	StaleAfter   Value[time.Duration] `yaml:"stale_after"`
	Delta        Value[string]        `yaml:"delta"`
	Keep         Value[int]           `yaml:"keep"`
	KeepDays     Value[int]           `yaml:"keep_days"`
	StaleMinutes Value[int]           `yaml:"stale_minutes"`

	// nginx (config nginx).
	Listen     Value[string] `yaml:"listen"`
	ServerName Value[string] `yaml:"server_name"`
	Upstream   Value[string] `yaml:"upstream"`
	Keepalive  Value[int]    `yaml:"keepalive"`

	// Hooks and shared files: no flag; read by the steps that run them.
	Hooks  Hooks  `yaml:"hooks"`
	Shared Shared `yaml:"shared"`

	// Secrets are refused: named here so the error says where they go.
	SSHKey        Secret `yaml:"ssh_key"`
	SSHPassphrase Secret `yaml:"ssh_passphrase"`
	GitHubToken   Secret `yaml:"github_token"`
}

// Secret is a key whose value is a secret: any value is an error that
// says where the secret goes instead.
type Secret struct{ meta }

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (s *Secret) UnmarshalYAML(n ast.Node) error {
	s.start(n)
	return nil
}

// secretHints say where each secret goes; the keys are the flags of
// internal/cli.SecretFlags (a test there keeps them equal).
var secretHints = map[string]string{
	"ssh_key":        "set NEXT_DEPLOY_SSH_KEY (in Actions: the ssh-key input, from a secret), or name a key file with ssh_key_file",
	"ssh_passphrase": "set NEXT_DEPLOY_SSH_PASSPHRASE (in Actions: the ssh-passphrase input, from a secret)",
	"github_token":   "set GITHUB_TOKEN (in Actions: env GITHUB_TOKEN: ${{ github.token }})",
}

// IsSecret reports whether a flag's value is a secret the file refuses.
func IsSecret(flag string) bool {
	_, ok := secretHints[strings.ReplaceAll(flag, "-", "_")]
	return ok
}

// Hosts is the hosts key: a list whose items are "[user@]host[:port]"
// (or "local") or a mapping {host, user, port, app_hostname, app_port};
// or one string in the --hosts syntax.
type Hosts struct {
	meta
	Targets []inventory.Target
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (h *Hosts) UnmarshalYAML(n ast.Node) error {
	h.start(n)
	seen := map[string]Pos{}
	add := func(t inventory.Target, at Pos) {
		k := strings.ToLower(t.String())
		if prev, dup := seen[k]; dup {
			h.fail(at, "%s is listed twice (first at line %d)", t, prev.Line)
			return
		}
		seen[k] = at
		h.Targets = append(h.Targets, t)
	}
	if text, ok := scalar(n); ok {
		h.Text = text
		ts, err := inventory.Parse(text)
		if err != nil {
			h.fail(h.Pos, "%v", err)
		}
		for _, t := range ts {
			add(t, h.Pos)
		}
		return nil
	}
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		h.fail(h.Pos, "want a list of hosts, not %s", kindOf(n))
		return nil
	}
	for _, item := range seq.Values {
		if t, ok := h.item(item); ok {
			add(t, posOf(item))
		}
	}
	if len(h.Targets) > 0 {
		// As written, not canonical: "web1" and "web1:22" differ for
		// an OpenSSH client config's Port.
		entries := make([]string, len(h.Targets))
		for i, t := range h.Targets {
			entries[i] = t.Entry
		}
		h.Text = strings.Join(entries, ",")
	}
	return nil
}

// item reads one entry of the list.
func (h *Hosts) item(n ast.Node) (inventory.Target, bool) {
	at := posOf(n)
	if text, ok := scalar(n); ok {
		t, err := inventory.ParseEntry(text)
		if err != nil {
			h.fail(at, "%v", err)
			return t, false
		}
		return t, true
	}
	pairs, ok := mappingPairs(n)
	if !ok {
		h.fail(at, "want \"[user@]host[:port]\" or a mapping {host, user, port, app_hostname, app_port}, not %s", kindOf(n))
		return inventory.Target{}, false
	}
	if len(pairs) > 0 {
		at = posOf(pairs[0].Key)
	}
	var m hostMapping
	fields := map[string]*scalarAt{"host": &m.host, "user": &m.user, "port": &m.port, "app_hostname": &m.appHost, "app_port": &m.appPort}
	good := true
	for _, p := range pairs {
		k := keyText(p.Key)
		dst, known := fields[k]
		v, isScalar := scalar(p.Value)
		switch {
		case !known:
			h.fail(posOf(p.Key), "unknown key %q in a host (want host, user, port, app_hostname, app_port)", k)
			good = false
		case !isScalar:
			h.fail(posOf(p.Value), "%s: want a single value, not %s", k, kindOf(p.Value))
			good = false
		default:
			*dst = scalarAt{v, posOf(p.Value)}
		}
	}
	if !good {
		return inventory.Target{}, false
	}
	return h.mapped(at, m)
}

// scalarAt is a scalar and its place.
type scalarAt struct {
	v   string
	pos Pos
}

// hostMapping is a host given as a mapping.
type hostMapping struct{ host, user, port, appHost, appPort scalarAt }

// mapped builds the target of a mapping item, checked as the same entry
// written as a string would be.
func (h *Hosts) mapped(at Pos, m hostMapping) (inventory.Target, bool) {
	host := m.host.v
	if host == "" {
		h.fail(at, "a host mapping needs host:")
		return inventory.Target{}, false
	}
	if host == "local" && (m.user.v != "" || m.port.v != "") {
		h.fail(at, "local takes no user or port: it is this machine, reached without SSH")
		return inventory.Target{}, false
	}
	entry := host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		entry = "[" + host + "]" // IPv6
	}
	if m.user.v != "" {
		entry = m.user.v + "@" + entry
	}
	if m.port.v != "" {
		entry += ":" + m.port.v
	}
	t, err := inventory.ParseEntry(entry)
	if err != nil {
		h.fail(at, "%v", err)
		return t, false
	}
	if a := m.appHost; a.v != "" {
		if !hostnameRe.MatchString(a.v) {
			h.fail(a.pos, "app_hostname %q: want an address like 127.0.0.1", a.v)
			return t, false
		}
		t.AppHostname = a.v
	}
	if a := m.appPort; a.v != "" {
		p, err := strconv.Atoi(a.v)
		if err != nil || p < 1 || p > 65535 {
			h.fail(a.pos, "app_port %q: want 1-65535", a.v)
			return t, false
		}
		t.AppPort = p
	}
	return t, true
}

// mappingPairs are the key: value pairs of a mapping node (one pair is a
// node of its own kind).
func mappingPairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := unwrap(n).(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// Hooks are commands run around a deploy (DESIGN.md, Configuration and
// hooks). An environment's hook replaces the shared hook of that name.
type Hooks struct {
	// BeforeActivate runs once per deploy, on one host, inside the new
	// release, before any host is switched (migrations); when it fails
	// nothing is switched.
	BeforeActivate Hook `yaml:"before_activate"`
	// AfterActivate runs on each host once it serves the new release.
	AfterActivate Hook `yaml:"after_activate"`
	// PreDeploy and PostDeploy run on the runner, around activate:
	// before any host is reached, and after the rollout whatever its
	// result.
	PreDeploy  Hook `yaml:"pre_deploy"`
	PostDeploy Hook `yaml:"post_deploy"`
}

// DefaultHookTimeout bounds a hook that names no timeout.
const DefaultHookTimeout = 10 * time.Minute

// Hook is one command: a string, or a mapping {run, timeout}.
type Hook struct {
	meta
	// Run is the command, run by sh -c.
	Run string
	// Timeout bounds it; zero when the file names none (see
	// DefaultHookTimeout).
	Timeout time.Duration
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (h *Hook) UnmarshalYAML(n ast.Node) error {
	h.start(n)
	if text, ok := scalar(n); ok {
		h.Run, h.Text = text, text
		return nil
	}
	pairs, ok := mappingPairs(n)
	if !ok {
		h.fail(h.Pos, "want a command, or a mapping {run, timeout}, not %s", kindOf(n))
		return nil
	}
	for _, p := range pairs {
		k := keyText(p.Key)
		v, isScalar := scalar(p.Value)
		switch {
		case k != "run" && k != "timeout":
			h.fail(posOf(p.Key), "unknown key %q in a hook (want run, timeout)", k)
		case !isScalar:
			h.fail(posOf(p.Value), "%s: want a single value, not %s", k, kindOf(p.Value))
		case k == "run":
			h.Run, h.Text = v, v
		default:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				h.fail(posOf(p.Value), "timeout: want a duration like 30s or 5m, more than 0, not %q", v)
			}
			h.Timeout = d
		}
	}
	return nil
}

// Shared are the files and directories every release links to from
// <path>/shared (.env.production, uploads/): paths relative to the app's
// root in the release. An environment's list replaces the shared one.
type Shared struct {
	meta
	Paths []string
	pos   []Pos
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (s *Shared) UnmarshalYAML(n ast.Node) error {
	s.start(n)
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		s.fail(s.Pos, "want a list of paths, not %s", kindOf(n))
		return nil
	}
	for _, item := range seq.Values {
		v, ok := scalar(item)
		if !ok {
			s.fail(posOf(item), "want a path, not %s", kindOf(item))
			continue
		}
		s.Paths = append(s.Paths, v)
		s.pos = append(s.pos, posOf(item))
	}
	s.Text = strings.Join(s.Paths, ",")
	return nil
}
