package remote

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/inventory"
)

// SSHConfig is how to reach SSH hosts: what verifies their keys, what logs
// in, and the limits of a connection. There is no mode that accepts any
// host key.
type SSHConfig struct {
	// KnownHosts is known_hosts content (OpenSSH format: ssh-keyscan
	// output). It is combined with KnownHostsFile when both are given.
	KnownHosts []byte
	// KnownHostsFile is a known_hosts file.
	KnownHostsFile string
	// Key is a private key (OpenSSH or PEM). It is kept in memory only.
	Key []byte
	// KeyFile is a private key file, the alternative to Key.
	KeyFile string
	// Passphrase decrypts an encrypted Key, KeyFile or key file of
	// IdentityFiles and PerHost.
	Passphrase []byte
	// IdentityFiles are private key files offered after Key or KeyFile,
	// for hosts without key files of their own in PerHost: the
	// ~/.ssh/id_* of an operator who gave no key. With Agent, one that
	// is encrypted and that Passphrase does not open is left out (the
	// agent may hold it).
	IdentityFiles []string
	// PerHost is what an OpenSSH client config says about a target
	// (ClientConfig.Apply), by the target's String: the key files its
	// login offers instead of IdentityFiles, the jump host instead of Jump.
	PerHost map[string]HostOptions
	// Agent adds the keys of ssh-agent (AgentSocket, else SSH_AUTH_SOCK).
	Agent bool
	// AgentSocket is the ssh-agent socket; empty means $SSH_AUTH_SOCK.
	AgentSocket string
	// Jump is a bastion every host is reached through; its key is
	// verified against the same known_hosts.
	Jump *inventory.Target
	// DefaultUser is the login for targets (and a jump host) given
	// without user@.
	DefaultUser string
	// ConnectTimeout bounds connecting and logging in to one host,
	// the jump host included; zero means 15s.
	ConnectTimeout time.Duration
	// KeepAlive is the interval of keepalive requests on an open
	// connection; after 3 unanswered ones the connection is closed and
	// its Runs fail. Zero means 15s; negative turns keepalives off.
	KeepAlive time.Duration
	// MaxSessions bounds the Runs at once on one connection; more wait
	// their turn. OpenSSH refuses sessions beyond its MaxSessions
	// (default 10). Zero means 8.
	MaxSessions int
}

// String describes c with its secrets left out, so a config that ends up
// in a log or an error by mistake does not leak the key or passphrase.
func (c SSHConfig) String() string {
	set := func(b []byte) string {
		if len(b) == 0 {
			return "none"
		}
		return "(redacted)"
	}
	jump := "none"
	if c.Jump != nil {
		jump = c.Jump.String()
	}
	return fmt.Sprintf("SSHConfig{KnownHosts: %d bytes, KnownHostsFile: %q, Key: %s, KeyFile: %q, Passphrase: %s, IdentityFiles: %q, PerHost: %d hosts, Agent: %t, Jump: %s, DefaultUser: %q}",
		len(c.KnownHosts), c.KnownHostsFile, set(c.Key), c.KeyFile, set(c.Passphrase), strings.Join(c.IdentityFiles, ","), len(c.PerHost), c.Agent, jump, c.DefaultUser)
}

// GoString is String, for %#v.
func (c SSHConfig) GoString() string { return c.String() }

// Defaults of SSHConfig.
const (
	DefaultConnectTimeout = 15 * time.Second
	DefaultKeepAlive      = 15 * time.Second
	DefaultMaxSessions    = 8
	// keepAliveMisses unanswered keepalives close a connection.
	keepAliveMisses = 3
)

// ErrConfig is wrapped by every error of SSHConfig.Validate and NewDialer,
// so callers can tell bad input (exit 2) from a failed connection.
var ErrConfig = errors.New("invalid ssh configuration")

// configError is one problem of an SSHConfig; its message is the problem
// alone, and it matches ErrConfig.
type configError struct{ err error }

func (e *configError) Error() string   { return e.err.Error() }
func (e *configError) Unwrap() []error { return []error{e.err, ErrConfig} }

// Validate reports every problem of c at once: no known_hosts, unreadable
// files, bad known_hosts lines, no way to log in, a key that does not
// parse or is encrypted without a passphrase, a bad jump host. It reads
// and parses what NewDialer would, and dials nothing.
func (c SSHConfig) Validate() error {
	_, err := c.load()
	return err
}

// loaded is an SSHConfig read and parsed.
type loaded struct {
	hostKeys  *hostKeys
	signers   []ssh.Signer // Key or KeyFile, then IdentityFiles
	agentSock string
	jump      *inventory.Target
	perHost   map[string]route
}

// route is how one target is logged in to when it is not the default:
// its own keys, its own jump host.
type route struct {
	signers []ssh.Signer
	jump    *inventory.Target
}

func (c SSHConfig) load() (*loaded, error) {
	var (
		l    loaded
		errs []error
		err  error
	)
	if l.hostKeys, err = loadHostKeys(c.KnownHosts, c.KnownHostsFile); err != nil {
		errs = append(errs, err)
	}
	signer, err := loadKey(c)
	if err != nil {
		errs = append(errs, err)
	} else if signer != nil {
		l.signers = append(l.signers, signer)
	}
	if l.agentSock, err = agentSocket(c); err != nil {
		errs = append(errs, err)
	}
	keys := newKeyFiles(c)
	l.signers = append(l.signers, keys.load(c.IdentityFiles)...)
	if !c.Agent && len(bytes.TrimSpace(c.Key)) == 0 && c.KeyFile == "" && len(c.IdentityFiles) == 0 && !c.perHostKeys() {
		errs = append(errs, errors.New("no way to log in: give a private key (content or file) or use ssh-agent"))
	}
	if c.Jump != nil {
		if l.jump, err = c.checkJump(*c.Jump); err != nil {
			errs = append(errs, err)
		}
	}
	l.perHost = map[string]route{}
	for _, name := range slices.Sorted(maps.Keys(c.PerHost)) {
		o := c.PerHost[name]
		r := route{signers: keys.load(o.KeyFiles)}
		if o.Jump != nil {
			if r.jump, err = c.checkJump(*o.Jump); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
		l.perHost[name] = r
	}
	errs = append(errs, keys.errs...)
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("connect timeout %s: want a positive duration", clock.Format(c.ConnectTimeout)))
	}
	if c.MaxSessions < 0 {
		errs = append(errs, fmt.Errorf("max sessions %d: want 1 or more", c.MaxSessions))
	}
	for i, e := range errs {
		errs[i] = &configError{e}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &l, nil
}

func (c SSHConfig) perHostKeys() bool {
	for _, o := range c.PerHost {
		if len(o.KeyFiles) > 0 {
			return true
		}
	}
	return false
}

// checkJump checks a jump host and gives it the default user.
func (c SSHConfig) checkJump(j inventory.Target) (*inventory.Target, error) {
	j = j.WithUser(c.DefaultUser)
	switch {
	case j.Local:
		return nil, errors.New("jump host: \"local\" is not a jump host")
	case j.Host == "" || j.Port < 1 || j.Port > 65535:
		return nil, fmt.Errorf("jump host %q: want [user@]host[:port]", j.Entry)
	case j.User == "":
		return nil, fmt.Errorf("jump host %s: no user (give user@ or a default user)", j)
	}
	return &j, nil
}
