package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/inventory"
)

// Dialer connects to SSH hosts with one SSHConfig, read and parsed once.
// It is safe for concurrent use.
type Dialer struct {
	hostKeys       *hostKeys
	signers        []ssh.Signer
	agentSock      string
	jump           *inventory.Target
	perHost        map[string]route
	user           string
	connectTimeout time.Duration
	keepAlive      time.Duration
	maxSessions    int
}

// NewDialer checks cfg (see SSHConfig.Validate) and keeps what it parsed.
func NewDialer(cfg SSHConfig) (*Dialer, error) {
	l, err := cfg.load()
	if err != nil {
		return nil, err
	}
	d := &Dialer{
		hostKeys:       l.hostKeys,
		signers:        l.signers,
		agentSock:      l.agentSock,
		jump:           l.jump,
		perHost:        l.perHost,
		user:           cfg.DefaultUser,
		connectTimeout: cfg.ConnectTimeout,
		keepAlive:      cfg.KeepAlive,
		maxSessions:    cfg.MaxSessions,
	}
	if d.connectTimeout == 0 {
		d.connectTimeout = DefaultConnectTimeout
	}
	if d.keepAlive == 0 {
		d.keepAlive = DefaultKeepAlive
	}
	if d.maxSessions == 0 {
		d.maxSessions = DefaultMaxSessions
	}
	return d, nil
}

// Dial connects and logs in to t, through the jump host when there is
// one, within the connect timeout. A target "local" is NewLocal(). A host
// key known_hosts does not vouch for fails as a *HostKeyError before
// anything runs.
func (d *Dialer) Dial(ctx context.Context, t inventory.Target) (Host, error) {
	if t.Local {
		return NewLocal(), nil
	}
	t = t.WithUser(d.user)
	if t.User == "" {
		return nil, fmt.Errorf("connect to %s: no user (give user@host or a default user)", t)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d.connectTimeout,
		fmt.Errorf("no login within the connect timeout (%s)", clock.Format(d.connectTimeout)))
	defer cancel()
	r := d.route(t)
	if r.jump == nil {
		c, err := d.dialDirect(ctx, t, r.signers)
		if err != nil {
			return nil, connectErr(t.String(), err)
		}
		return d.newHost(t.String(), c, nil), nil
	}
	j := *r.jump
	via := func(err error) error {
		return fmt.Errorf("connect to %s through jump host %s: %w", t, j, err)
	}
	jc, err := d.dialDirect(ctx, j, r.signers)
	if err != nil {
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, via(hk)
		}
		return nil, via(connectErr(j.String(), err))
	}
	conn, err := jc.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		jc.Close()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, via(fmt.Errorf("open a tunnel from %s to %s: %w", j, t.Addr(), err))
	}
	c, err := d.handshake(ctx, conn, t, r.signers)
	if err != nil {
		jc.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, via(hk)
		}
		return nil, via(err)
	}
	return d.newHost(t.String(), c, jc), nil
}

// route is how t is reached: its own keys and jump host from PerHost,
// else the Dialer's.
func (d *Dialer) route(t inventory.Target) route {
	r := d.perHost[t.String()]
	if len(r.signers) == 0 {
		r.signers = d.signers
	}
	if r.jump == nil {
		r.jump = d.jump
	}
	return r
}

// connectErr names the host, unless err is a HostKeyError (which does).
func connectErr(name string, err error) error {
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return hk
	}
	return fmt.Errorf("connect to %s: %w", name, err)
}

// dialDirect connects to t over TCP and logs in.
func (d *Dialer) dialDirect(ctx context.Context, t inventory.Target, keys []ssh.Signer) (*ssh.Client, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	return d.handshake(ctx, conn, t, keys)
}

// handshake runs the SSH handshake and login over conn, closing conn when
// ctx ends first (a tunnel through the jump host has no deadlines).
func (d *Dialer) handshake(ctx context.Context, conn net.Conn, t inventory.Target, keys []ssh.Signer) (*ssh.Client, error) {
	auth, agentConn := d.auth(keys)
	defer agentConn.Close()
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              []ssh.AuthMethod{auth},
		HostKeyCallback:   d.hostKeys.callback(t.String(), t.Addr()),
		HostKeyAlgorithms: d.hostKeys.algorithms(t.Addr()),
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.Addr(), cfg)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, context.Cause(ctx)
	}
	if err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("login as %s refused (%s): %w", t.User, d.triedKeys(keys), err)
		}
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// triedKeys says which keys a login offered, by fingerprint.
func (d *Dialer) triedKeys(keys []ssh.Signer) string {
	var s []string
	for _, k := range keys {
		s = append(s, "key "+ssh.FingerprintSHA256(k.PublicKey()))
	}
	if d.agentSock != "" {
		s = append(s, "the keys of ssh-agent")
	}
	if len(s) == 0 {
		return "offered no key: give one, or use ssh-agent"
	}
	return "offered " + strings.Join(s, " and ") + "; is it in the user's ~/.ssh/authorized_keys?"
}
