package hook

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// killGrace is how long a hook has after SIGTERM before it gets
// SIGKILL; and how long its output may stay open after it exits (a
// child it left in the background holding it).
const killGrace = 5 * time.Second

// RunLocal runs h on the runner in dir, with environ (KEY=value: the
// runner's environment, less its secrets, which are the caller's to
// leave out) and v's variables. Each line of its output goes to out as
// "<hook>: <line>". It runs in a process group of its own: a timeout or
// a cancel sends the group SIGTERM, then after a grace SIGKILL, so what
// the hook started ends with it.
func RunLocal(ctx context.Context, dir string, environ []string, h Hook, v Vars, out func(string)) error {
	ctx, cancel := withTimeout(ctx, h)
	defer cancel()
	cmd := exec.CommandContext(ctx, remote.Shell, "-c", h.Run, h.Name)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), environ...), v.Environ()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = killGrace
	stdout, stderr := NewLines(h.Name+": ", out), NewLines(h.Name+": ", out)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	stdout.Close()
	stderr.Close()
	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		return nil // exit 0, a child of it still holding the output
	}
	if ctx.Err() != nil && cmd.Process != nil {
		// What the group still runs after the grace: the leader got
		// SIGKILL from exec, the rest get it here.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = context.Cause(ctx)
	} else if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		err = &remote.ExitError{Host: "runner", Code: ee.ExitCode()}
	}
	return fmt.Errorf("%s on the runner: %w", h.Name, failure(err, stderr))
}
