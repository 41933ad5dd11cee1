package pm2

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MarkerPrefix starts the first line of an ecosystem file next-deploy
// wrote. The line carries the settings the file was made from and the
// sha256 of everything after it:
//
//	// next-deploy:generated v1 sha256=<hex> settings={"root":"/app",...}
//
// A file whose body still has that hash is ours to rewrite when the flags
// ask for other settings; a file without the line, or edited since (the
// template invites env variables), is the user's and never rewritten.
const MarkerPrefix = "// next-deploy:generated v1 "

// settings is Config as the marker line stores it: durations as Go
// durations ("15s"), readable in the file.
type settings struct {
	Root          string   `json:"root"`
	Name          string   `json:"name"`
	AppDir        string   `json:"app_dir"`
	Hostname      string   `json:"hostname"`
	Port          int      `json:"port"`
	Instances     string   `json:"instances"`
	Envs          []string `json:"envs"`
	ListenTimeout string   `json:"listen_timeout"`
	KillTimeout   string   `json:"kill_timeout"`
	Drain         string   `json:"drain"`
	MaxMemory     string   `json:"max_memory"`
}

func (c Config) settings() settings {
	return settings{
		Root: c.Root, Name: c.Name, AppDir: c.AppDir, Hostname: c.Hostname, Port: c.Port,
		Instances: c.Instances, Envs: c.Envs, ListenTimeout: c.ListenTimeout.String(),
		KillTimeout: c.KillTimeout.String(), Drain: c.Drain.String(), MaxMemory: c.MaxMemory,
	}
}

func (s settings) config() (Config, error) {
	c := Config{Root: s.Root, Name: s.Name, AppDir: s.AppDir, Hostname: s.Hostname, Port: s.Port,
		Instances: s.Instances, Envs: s.Envs, MaxMemory: s.MaxMemory}
	var err error
	for _, d := range []struct {
		dst *time.Duration
		s   string
	}{{&c.ListenTimeout, s.ListenTimeout}, {&c.KillTimeout, s.KillTimeout}, {&c.Drain, s.Drain}} {
		if *d.dst, err = time.ParseDuration(d.s); err != nil {
			return Config{}, err
		}
	}
	return c, c.Validate()
}

// marker is the first line of the ecosystem file whose body is body.
// json.Marshal escapes newlines, U+2028 and U+2029: the line stays one
// JavaScript comment whatever the values (they are validated anyway).
func marker(c Config, body []byte) string {
	sum := sha256.Sum256(body)
	js, _ := json.Marshal(c.settings())
	return MarkerPrefix + "sha256=" + hex.EncodeToString(sum[:]) + " settings=" + string(js) + "\n"
}

// Generated reads an ecosystem's marker line (the file's first line) and
// the sha256 of the rest of the file, as inspect.cjs reports them. It
// returns the settings the file was made from and whether the body is
// still the one next-deploy wrote; ok is false when the line is not a
// marker at all (a hand-written file).
func Generated(line, bodySHA256 string) (c Config, untouched, ok bool) {
	rest, found := strings.CutPrefix(line, MarkerPrefix)
	if !found {
		return Config{}, false, false
	}
	sum, js, _ := strings.Cut(rest, " settings=")
	var s settings
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &s); err != nil {
		return Config{}, false, false
	}
	c, err := s.config()
	if err != nil {
		return Config{}, false, false
	}
	return c, strings.TrimPrefix(sum, "sha256=") == bodySHA256, true
}

// A Setting is one value of an ecosystem that a flag of activate and
// config pm2 sets. Flag is that flag's name ("" for the app dir, which
// comes from the release's manifest).
type Setting struct {
	Flag  string
	Label string
	get   func(Config) string
	set   func(dst *Config, src Config)
}

// Settings are every setting of Config, in the order messages name them.
var Settings = []Setting{
	{"name", "app name", func(c Config) string { return strconv.Quote(c.Name) }, func(d *Config, s Config) { d.Name = s.Name }},
	{"hostname", "hostname", func(c Config) string { return c.Hostname }, func(d *Config, s Config) { d.Hostname = s.Hostname }},
	{"port", "port", func(c Config) string { return portString(c.Port) }, func(d *Config, s Config) { d.Port = s.Port }},
	{"instances", "instances", func(c Config) string { return c.Instances }, func(d *Config, s Config) { d.Instances = s.Instances }},
	{"pm2-env", "env blocks", func(c Config) string { return strings.Join(c.Envs, ",") }, func(d *Config, s Config) { d.Envs = s.Envs }},
	{"listen-timeout", "listen timeout", func(c Config) string { return durString(c.ListenTimeout) }, func(d *Config, s Config) { d.ListenTimeout = s.ListenTimeout }},
	{"kill-timeout", "kill timeout", func(c Config) string { return durString(c.KillTimeout) }, func(d *Config, s Config) { d.KillTimeout = s.KillTimeout }},
	{"drain", "drain", func(c Config) string { return durString(c.Drain) }, func(d *Config, s Config) { d.Drain = s.Drain }},
	{"max-memory", "max memory", func(c Config) string { return c.MaxMemory }, func(d *Config, s Config) { d.MaxMemory = s.MaxMemory }},
	{"", "app dir", func(c Config) string { return c.AppDir }, func(d *Config, s Config) { d.AppDir = s.AppDir }},
	{"path", "deploy path", func(c Config) string { return c.Root }, func(d *Config, s Config) { d.Root = s.Root }},
}

func portString(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// Change is a setting that differs between an ecosystem file and what
// the flags ask for.
type Change struct {
	Setting    Setting
	Have, Want string
}

// String says it the way messages do: port 3000 -> 3202 (--port).
func (c Change) String() string {
	have := c.Have
	if have == "" {
		have = "(not set)"
	}
	s := c.Setting.Label + " " + have + " -> " + c.Want
	if c.Setting.Flag != "" {
		s += " (--" + c.Setting.Flag + ")"
	}
	return s
}

// Diff lists the settings in which want differs from have, among those
// only keeps (by flag name; nil keeps every setting).
func Diff(have, want Config, only func(flag string) bool) []Change {
	var out []Change
	for _, s := range Settings {
		if only != nil && !only(s.Flag) {
			continue
		}
		if h, w := s.get(have), s.get(want); h != w {
			out = append(out, Change{Setting: s, Have: h, Want: w})
		}
	}
	return out
}

// Update is the settings of a generated ecosystem (have) after a run
// whose flags ask for want: the settings whose flag was given
// (given(flag)) come from want, and so do those that follow the release
// and the command line whatever the flags (deploy path, app dir); the
// pm2 environment asked for (want.Envs) is added to the env blocks.
func Update(have, want Config, given func(flag string) bool) Config {
	next := have
	next.Envs = slices.Clone(have.Envs)
	for _, s := range Settings {
		switch s.Flag {
		case "pm2-env":
			for _, e := range want.Envs {
				if !slices.Contains(next.Envs, e) {
					next.Envs = append(next.Envs, e)
				}
			}
		case "", "path":
			s.set(&next, want)
		default:
			if given(s.Flag) {
				s.set(&next, want)
			}
		}
	}
	return next
}

// DiffText joins changes for a message: "port 3000 -> 3202 (--port),
// app name "web" -> "shop" (--name)".
func DiffText(cs []Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// Config is what the app of a hand-written ecosystem is started with, as
// far as the file says (App's fields; what it leaves unset stays zero).
func (a App) Config() Config {
	c := Config{Name: a.Name, Hostname: a.Hostname, Instances: a.Instances, MaxMemory: a.MaxMemory}
	c.Port, _ = strconv.Atoi(a.Port)
	ms := func(s string) time.Duration {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0
		}
		return time.Duration(n) * time.Millisecond
	}
	c.ListenTimeout, c.KillTimeout, c.Drain = ms(a.ListenTimeout), ms(a.KillTimeout), ms(a.DrainMS)
	return c
}
