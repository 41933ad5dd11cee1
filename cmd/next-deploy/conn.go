package main

import (
	"errors"
	"flag"
	"fmt"
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
	sshConfigFile  string
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
	fs.StringVar(&c.sshConfigFile, "ssh-config", "", "OpenSSH client config whose HostName, User, Port, IdentityFile and ProxyJump apply to the hosts it names (default ~/.ssh/config, outside GitHub Actions)")
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
	targets, err := c.targets(env)
	if err != nil {
		errs = append(errs, err)
	}
	layout, err := release.NewLayout(c.path)
	if err != nil {
		errs = append(errs, fmt.Errorf("--path: %w", err))
	}
	if c.parallel < 1 {
		errs = append(errs, fmt.Errorf("--parallel %d: want 1 or more", c.parallel))
	}
	cfg, targets, err := c.sshConfig(env, targets)
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

// targets are the hosts of --hosts, or of next-deploy.yml with their
// per-host overrides when the file gave them.
func (c *connFlags) targets(env *cli.Env) ([]inventory.Target, error) {
	if f := env.Config(); f != nil && f.Hosts != nil && env.Source("hosts").Kind == cli.FromFile {
		return f.Hosts, nil
	}
	ts, err := inventory.Parse(c.hosts)
	if err != nil {
		return nil, fmt.Errorf("--hosts: %w", err)
	}
	return ts, nil
}

func needsSSH(ts []inventory.Target) bool {
	for _, t := range ts {
		if !t.Local {
			return true
		}
	}
	return false
}

func (f *fleetConn) close() { f.pool.Close() }
