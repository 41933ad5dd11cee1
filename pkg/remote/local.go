package remote

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// Local runs scripts on this machine: for single-server setups where the
// runner lives on the server, and for the demo. It runs the same scripts the
// SSH host runs, through the same Shell.
type Local struct{}

// NewLocal returns the "local" host.
func NewLocal() *Local { return &Local{} }

// Name implements Host.
func (*Local) Name() string { return "local" }

// Run implements Host.
func (l *Local) Run(ctx context.Context, c Cmd) (*Result, error) {
	args := append([]string{"-c", c.Script, scriptName}, c.Args...)
	cmd := exec.CommandContext(ctx, Shell, args...)
	// Its own process group, so a cancel reaches the whole script
	// (tar, sha256sum, ...) and not only sh.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = c.Stdin
	var res Result
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	if c.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if c.Stderr == nil {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	if err != nil {
		if ctx.Err() != nil {
			return &res, context.Cause(ctx)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &res, &ExitError{Host: l.Name(), Code: ee.ExitCode(), Stderr: stderr.String()}
		}
		return &res, err
	}
	return &res, nil
}

// DialTCP implements Host: on the local host it is a plain dial.
func (*Local) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Close implements Host.
func (*Local) Close() error { return nil }
