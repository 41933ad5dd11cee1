package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
)

// sshConfig is the SSH side of the flags, and the targets as an OpenSSH
// client config resolves them.
func (c *connFlags) sshConfig(env *cli.Env, targets []inventory.Target) (remote.SSHConfig, []inventory.Target, error) {
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
	if !needsSSH(targets) {
		return cfg, targets, nil
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
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	if cfg.DefaultUser == "" {
		cfg.DefaultUser = local
	}
	if len(cfg.KnownHosts) == 0 && cfg.KnownHostsFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfg.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
	if len(cfg.Key) == 0 && cfg.KeyFile == "" && !cfg.Agent && env.Getenv("SSH_AUTH_SOCK") != "" {
		cfg.Agent = true
	}
	targets, err := c.laptop(env, &cfg, targets, local)
	if err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, targets, errors.Join(errs...)
}

// laptop applies what an operator's machine knows, outside Actions: the
// OpenSSH client config (--ssh-config, else ~/.ssh/config) for the hosts
// it names, and ~/.ssh/id_* when no key is given and no agent runs.
// --ssh-config given applies in Actions too.
func (c *connFlags) laptop(env *cli.Env, cfg *remote.SSHConfig, targets []inventory.Target, local string) ([]inventory.Target, error) {
	home, _ := os.UserHomeDir()
	keyGiven := len(cfg.Key) > 0 || cfg.KeyFile != ""
	if !env.InActions && !keyGiven && !cfg.Agent && home != "" {
		cfg.IdentityFiles = remote.DefaultIdentityFiles(home)
	}
	path := c.sshConfigFile
	if path == "" && !env.InActions && home != "" {
		path = filepath.Join(home, ".ssh", "config")
		if _, err := os.Stat(path); err != nil {
			return targets, nil
		}
	}
	if path == "" {
		return targets, nil
	}
	client, err := remote.LoadClientConfig(path)
	if err != nil {
		return targets, fmt.Errorf("--ssh-config: %w", err)
	}
	for _, n := range client.Notes {
		env.Progressf("note: %s", n)
	}
	targets, cfg.PerHost, err = client.Apply(targets, remote.ApplyOptions{
		User: c.user, DefaultUser: local, KeyGiven: keyGiven, JumpGiven: c.jump != "",
	})
	return targets, err
}
