package remote

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/org/next-deploy/pkg/inventory"
)

// ClientConfig is what next-deploy takes from an OpenSSH client config
// (~/.ssh/config, ssh_config(5)) for operators on laptops: per Host
// pattern, HostName, User, Port, IdentityFile and ProxyJump. As in ssh(1)
// the first value found for a keyword wins, IdentityFile adds up, and
// lines before the first Host apply to every host. Every other keyword is
// ignored; Include and Match are not followed (Notes say which lines were
// skipped).
type ClientConfig struct {
	// Path is the file, for messages.
	Path string
	// Notes name the lines that were not followed.
	Notes  []string
	blocks []hostBlock
}

type hostBlock struct {
	patterns []string
	skip     bool // a Match block: never applies
	opts     []clientOption
}

type clientOption struct {
	key, value string
	line       int
}

// HostConfig is what a ClientConfig says about one host alias.
type HostConfig struct {
	HostName      string
	User          string
	Port          int
	IdentityFiles []string
	ProxyJump     string
	// proxyJumpLine is the line of ProxyJump, for messages.
	proxyJumpLine int
}

// LoadClientConfig reads and parses the file at path.
func LoadClientConfig(path string) (*ClientConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	return ParseClientConfig(path, data)
}

// honoured are the keywords a ClientConfig keeps, lowercased.
var honoured = map[string]bool{"hostname": true, "user": true, "port": true, "identityfile": true, "proxyjump": true}

// ParseClientConfig parses data, the content of the file path. A Port
// that is not a port is an error naming path:line.
func ParseClientConfig(path string, data []byte) (*ClientConfig, error) {
	c := &ClientConfig{Path: path}
	cur := &hostBlock{patterns: []string{"*"}} // lines before the first Host
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		key, value := splitClientLine(sc.Text())
		switch {
		case key == "":
			continue
		case key == "host":
			c.blocks = append(c.blocks, *cur)
			cur = &hostBlock{patterns: strings.Fields(strings.ToLower(value))}
		case key == "match":
			c.blocks = append(c.blocks, *cur)
			cur = &hostBlock{skip: true}
			c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: Match is not supported: its block is skipped", path, n))
		case key == "include":
			c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: Include is not followed", path, n))
		case honoured[key]:
			if key == "port" {
				if p, err := strconv.Atoi(value); err != nil || p < 1 || p > 65535 {
					errs = append(errs, fmt.Errorf("%s:%d: Port %q: want 1-65535", path, n, value))
					continue
				}
			}
			cur.opts = append(cur.opts, clientOption{key, value, n})
		}
	}
	c.blocks = append(c.blocks, *cur)
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	return c, errors.Join(errs...)
}

// splitClientLine splits "Keyword value", "Keyword=value" or
// "Keyword = value" into the lowercased keyword and the value without
// quotes; a comment or blank line gives "".
func splitClientLine(line string) (string, string) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", ""
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), ""
	}
	key := strings.ToLower(line[:i])
	value := strings.TrimSpace(line[i:])
	value = strings.TrimSpace(strings.TrimPrefix(value, "="))
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return key, value
}

// Lookup is what the file says about alias.
func (c *ClientConfig) Lookup(alias string) HostConfig {
	var h HostConfig
	got := map[string]bool{}
	for _, b := range c.blocks {
		if b.skip || !matchHost(b.patterns, strings.ToLower(alias)) {
			continue
		}
		for _, o := range b.opts {
			if o.key == "identityfile" {
				h.IdentityFiles = append(h.IdentityFiles, o.value)
				continue
			}
			if got[o.key] {
				continue
			}
			got[o.key] = true
			switch o.key {
			case "hostname":
				h.HostName = strings.NewReplacer("%h", alias, "%%", "%").Replace(o.value)
			case "user":
				h.User = o.value
			case "port":
				h.Port, _ = strconv.Atoi(o.value) // checked when parsed
			case "proxyjump":
				h.ProxyJump, h.proxyJumpLine = o.value, o.line
			}
		}
	}
	return h
}

// matchHost applies a Host line's patterns: some pattern matches and no
// negated one (!pattern) does.
func matchHost(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if wildcard(neg, host) {
				return false
			}
			continue
		}
		if wildcard(p, host) {
			matched = true
		}
	}
	return matched
}

// wildcard matches s against p, where '*' is any text and '?' any one
// character, as in ssh_config(5) PATTERNS.
func wildcard(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcard(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

// HostOptions are what a client config says about one target beyond its
// address and login: the key files its login offers (instead of
// SSHConfig.IdentityFiles) and the jump host it is reached through
// (instead of SSHConfig.Jump).
type HostOptions struct {
	KeyFiles []string
	Jump     *inventory.Target
}

// ApplyOptions say what was given otherwise, and so wins over the client
// config.
type ApplyOptions struct {
	// User is the login for entries without user@ (--user); it wins over
	// User. DefaultUser is the last resort (the local login).
	User, DefaultUser string
	// KeyGiven: a key was given, so IdentityFile is not used.
	KeyGiven bool
	// JumpGiven: a jump host was given, so ProxyJump is not used.
	JumpGiven bool
}

// Apply resolves each target through c: its host becomes HostName, its
// port Port unless the entry gave one, its login the entry's user@, else
// o.User, else User, else o.DefaultUser. The returned map has, by the
// resolved target's String, the key files and jump host for SSHConfig.PerHost.
func (c *ClientConfig) Apply(ts []inventory.Target, o ApplyOptions) ([]inventory.Target, map[string]HostOptions, error) {
	out := make([]inventory.Target, len(ts))
	per := map[string]HostOptions{}
	var errs []error
	for i, t := range ts {
		out[i] = t
		if t.Local {
			continue
		}
		h := c.Lookup(t.Host)
		r := withUsers(resolve(t, h), o.User, h.User, o.DefaultUser)
		out[i] = r
		var ho HostOptions
		if !o.KeyGiven {
			for _, f := range h.IdentityFiles {
				ho.KeyFiles = append(ho.KeyFiles, expandIdentity(f, t.Host, r.User))
			}
		}
		if !o.JumpGiven && h.ProxyJump != "" && h.ProxyJump != "none" {
			j, err := c.jump(h, o)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: ProxyJump %q of %s: %w", c.Path, h.proxyJumpLine, h.ProxyJump, t.Host, err))
			}
			ho.Jump = j
		}
		if len(ho.KeyFiles) > 0 || ho.Jump != nil {
			per[r.String()] = ho
		}
	}
	return out, per, errors.Join(errs...)
}

// resolve applies h's HostName and Port to t.
func resolve(t inventory.Target, h HostConfig) inventory.Target {
	if h.HostName != "" {
		t.Host = strings.TrimSuffix(strings.TrimPrefix(h.HostName, "["), "]")
	}
	if !t.PortGiven() && h.Port != 0 {
		t.Port = h.Port
	}
	return t
}

// withUsers gives t the first non-empty user when it has none.
func withUsers(t inventory.Target, users ...string) inventory.Target {
	for _, u := range users {
		t = t.WithUser(u)
	}
	return t
}

// jump is the jump host of ProxyJump: one hop, itself resolved through
// the file (not its own ProxyJump); its login is its own (user@, then its
// User) before the fleet's, as ssh -l does not reach a jump host.
func (c *ClientConfig) jump(h HostConfig, o ApplyOptions) (*inventory.Target, error) {
	if strings.Contains(h.ProxyJump, ",") {
		return nil, errors.New("more than one hop is not supported: give one jump host")
	}
	j, err := inventory.ParseEntry(h.ProxyJump)
	if err != nil {
		return nil, err
	}
	if j.Local {
		return nil, errors.New("\"local\" is not a jump host")
	}
	jh := c.Lookup(j.Host)
	r := withUsers(resolve(j, jh), jh.User, o.User, o.DefaultUser)
	return &r, nil
}

// expandIdentity expands what ssh(1) expands in an IdentityFile that
// next-deploy meets in practice: ~, %d (home), %h, %r, %u, %%.
func expandIdentity(f, host, remoteUser string) string {
	home, _ := os.UserHomeDir()
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	if rest, ok := strings.CutPrefix(f, "~/"); ok && home != "" {
		f = filepath.Join(home, rest)
	}
	return strings.NewReplacer("%d", home, "%h", host, "%r", remoteUser, "%u", local, "%%", "%").Replace(f)
}

// DefaultIdentityFiles are the private keys ssh(1) offers when none is
// configured, those of them that exist: ~/.ssh/id_ed25519, id_ecdsa,
// id_rsa.
func DefaultIdentityFiles(home string) []string {
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", n)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
