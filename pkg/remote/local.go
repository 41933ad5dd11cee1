package remote

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
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
	cmd.Env = LocalEnv(os.Environ())
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

// localEnvKeys are the variables a script on this machine inherits: what
// sh, tar, node and pm2 need. Everything else stays behind: the runner's
// secrets (INPUT_SSH_KEY reached pm2, every worker's environment and
// dump.pm2 on disk), GITHUB_TOKEN, and RUNNER_TRACKING_ID, which a
// self-hosted runner uses to kill every process carrying it when the job
// ends (the pm2 daemon of a local deploy included). An SSH host gets
// sshd's clean login environment; this gives the local host the same.
var localEnvKeys = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"LANG": true, "LANGUAGE": true, "TZ": true, "TMPDIR": true, "PM2_HOME": true,
}

// LocalEnv is the allow-listed part of environ (KEY=value entries): the
// environment of every script the local host runs.
func LocalEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if localEnvKeys[k] || strings.HasPrefix(k, "LC_") {
			out = append(out, kv)
		}
	}
	return out
}

// DialTCP implements Host: on the local host it is a plain dial.
func (*Local) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Close implements Host.
func (*Local) Close() error { return nil }
