package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// connFlags are the flags of every step that reaches the servers.
type connFlags struct {
	hosts          string
	path           string
	user           string
	knownHosts     string
	knownHostsFile string
	sshKey         string
	sshKeyFile     string
	passphrase     string
	agent          bool
	jump           string
	connectTimeout time.Duration
	parallel       int
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.hosts, "hosts", "", "target hosts: [user@]host[:port] separated by commas, spaces or newlines; \"local\" for this machine (required)")
	fs.StringVar(&c.path, "path", "/app", "deploy root on every host: absolute, or ~/dir under the login's home")
	fs.StringVar(&c.user, "user", "", "SSH login for hosts given without user@ (default: the local user name)")
	fs.StringVar(&c.knownHosts, "known-hosts", "", "known_hosts content verifying every host key (and the jump host's)")
	fs.StringVar(&c.knownHostsFile, "known-hosts-file", "", "known_hosts file (default ~/.ssh/known_hosts when --known-hosts is not given)")
	fs.StringVar(&c.sshKey, "ssh-key", "", "private key content: a secret, so never on the command line; from $NEXT_DEPLOY_SSH_KEY (in Actions the ssh-key input); masked, never written to disk")
	fs.StringVar(&c.sshKeyFile, "ssh-key-file", "", "private key file; - reads the key from stdin")
	fs.StringVar(&c.passphrase, "ssh-passphrase", "", "passphrase of an encrypted private key: a secret, from $NEXT_DEPLOY_SSH_PASSPHRASE (in Actions the ssh-passphrase input), never on the command line")
	fs.BoolVar(&c.agent, "ssh-agent", false, "authenticate with ssh-agent (SSH_AUTH_SOCK); the default when no key is given and an agent is running")
	fs.StringVar(&c.jump, "jump", "", "jump host (bastion): [user@]host[:port]")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 15*time.Second, "time limit to connect and log in to one host")
	fs.IntVar(&c.parallel, "parallel", 8, "hosts worked on at once")
}

// fleetConn is a parsed connFlags: what a step needs to reach its hosts.
type fleetConn struct {
	targets  []inventory.Target
	layout   release.Layout
	pool     *remote.Pool
	parallel int
}

// open checks every connection input, reporting all problems at once as
// bad input (exit 2), before any host is touched.
func (c *connFlags) open(env *cli.Env) (*fleetConn, error) {
	var errs []error
	targets, err := inventory.Parse(c.hosts)
	if err != nil {
		errs = append(errs, fmt.Errorf("--hosts: %w", err))
	}
	layout, err := release.NewLayout(c.path)
	if err != nil {
		errs = append(errs, fmt.Errorf("--path: %w", err))
	}
	if c.parallel < 1 {
		errs = append(errs, fmt.Errorf("--parallel %d: want 1 or more", c.parallel))
	}
	cfg, err := c.sshConfig(env, needsSSH(targets))
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, cli.Usage(errors.Join(errs...))
	}
	var pool *remote.Pool
	if needsSSH(targets) {
		d, err := remote.NewDialer(cfg)
		if err != nil {
			return nil, cli.Usage(err)
		}
		pool = remote.NewPool(d)
	} else {
		pool = remote.NewPool(nil)
	}
	return &fleetConn{targets: targets, layout: layout, pool: pool, parallel: c.parallel}, nil
}

func needsSSH(ts []inventory.Target) bool {
	for _, t := range ts {
		if !t.Local {
			return true
		}
	}
	return false
}

func (c *connFlags) sshConfig(env *cli.Env, need bool) (remote.SSHConfig, error) {
	cfg := remote.SSHConfig{
		KnownHosts:     []byte(c.knownHosts),
		KnownHostsFile: c.knownHostsFile,
		Key:            []byte(c.sshKey),
		KeyFile:        c.sshKeyFile,
		Passphrase:     []byte(c.passphrase),
		Agent:          c.agent,
		DefaultUser:    c.user,
		ConnectTimeout: c.connectTimeout,
	}
	if !need {
		return cfg, nil
	}
	var errs []error
	if cfg.KeyFile == "-" {
		// The key from stdin: neither argv nor the environment holds it.
		var b []byte
		var err error
		if env.Stdin != nil {
			b, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
		}
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			errs = append(errs, fmt.Errorf("--ssh-key-file -: no private key on stdin"))
		}
		cfg.Key, cfg.KeyFile = b, ""
	}
	if c.jump != "" {
		j, err := inventory.ParseEntry(c.jump)
		if err != nil || j.Local {
			errs = append(errs, fmt.Errorf("--jump %q: want [user@]host[:port]", c.jump))
		} else {
			cfg.Jump = &j
		}
	}
	if cfg.DefaultUser == "" {
		if u, err := user.Current(); err == nil {
			cfg.DefaultUser = u.Username
		}
	}
	if len(cfg.KnownHosts) == 0 && cfg.KnownHostsFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfg.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
	if len(cfg.Key) == 0 && cfg.KeyFile == "" && !cfg.Agent && env.Getenv("SSH_AUTH_SOCK") != "" {
		cfg.Agent = true
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

func (f *fleetConn) close() { f.pool.Close() }
