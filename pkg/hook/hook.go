// Package hook owns running a user's hook (next-deploy.yml hooks:): on a
// host, in a folder of a release, through remote (RunOn), or on the
// runner (RunLocal); bounded by a timeout that ends its whole process
// group; its output streamed a line at a time under a prefix naming where
// it runs (Lines); told what the deploy is by NEXT_DEPLOY_* variables.
// The command is the user's own code from their file: it reaches sh -c
// as one quoted argument of a fixed script, never pasted into one, and so
// do the variables. Which hook runs when is the business of the steps.
package hook

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/remote"
)

// DefaultTimeout bounds a hook whose Timeout is zero.
const DefaultTimeout = 10 * time.Minute

// Hook is one command.
type Hook struct {
	// Name is its key in the file (before_activate): $0 of the command
	// and the prefix of its output.
	Name string
	// Run is the command, run by sh -c.
	Run string
	// Timeout bounds it (DefaultTimeout when zero).
	Timeout time.Duration
}

// Set reports whether there is a command to run.
func (h Hook) Set() bool { return strings.TrimSpace(h.Run) != "" }

func (h Hook) timeout() time.Duration {
	if h.Timeout <= 0 {
		return DefaultTimeout
	}
	return h.Timeout
}

// Vars tell a hook what the deploy is: NEXT_DEPLOY_<NAME>.
type Vars struct {
	// Release is the release being activated, Previous the one current
	// before ("" for none or not known yet), Env the environment of
	// next-deploy.yml ("" for none).
	Release, Previous, Env string
	// Host is the host a hook runs on (RunOn).
	Host string
	// Hosts, Actor, Result ("ok" or "failed", "" before the deploy) and
	// Duration are for the runner's hooks (RunLocal).
	Hosts    []string
	Actor    string
	Result   string
	Duration time.Duration
}

// Results of a deploy, for NEXT_DEPLOY_RESULT.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
)

// Environ is v as the KEY=value entries of a runner's hook: every
// variable, empty when not known, but RESULT and DURATION only once there
// is a result.
func (v Vars) Environ() []string {
	env := []string{
		"NEXT_DEPLOY_RELEASE=" + v.Release,
		"NEXT_DEPLOY_PREVIOUS=" + v.Previous,
		"NEXT_DEPLOY_ENV=" + v.Env,
		"NEXT_DEPLOY_HOSTS=" + strings.Join(v.Hosts, ","),
		"NEXT_DEPLOY_ACTOR=" + v.Actor,
	}
	if v.Result != "" {
		env = append(env, "NEXT_DEPLOY_RESULT="+v.Result,
			"NEXT_DEPLOY_DURATION="+strconv.FormatInt(int64(v.Duration.Round(time.Second)/time.Second), 10))
	}
	return env
}

//go:embed scripts/on-host.sh
var onHostScript string

// RunOn runs h on host in dir, a folder on the host (~/ for the login's
// home), with v's RELEASE, PREVIOUS, ENV and HOST exported and the
// login's environment. Each line of its output goes to out as
// "<host>: <hook>: <line>". A non-zero exit, a timeout or a cancel is an
// error naming the hook and the host.
func RunOn(ctx context.Context, host remote.Host, dir string, h Hook, v Vars, out func(string)) error {
	ctx, cancel := withTimeout(ctx, h)
	defer cancel()
	prefix := host.Name() + ": " + h.Name + ": "
	stdout, stderr := NewLines(prefix, out), NewLines(prefix, out)
	_, err := host.Run(ctx, remote.Cmd{
		Script: onHostScript,
		Args:   []string{dir, h.Run, h.Name, v.Release, v.Previous, v.Env, v.Host},
		Stdout: stdout, Stderr: stderr,
	})
	stdout.Close()
	stderr.Close()
	if err != nil {
		return fmt.Errorf("%s on %s: %w", h.Name, host.Name(), failure(err, stderr))
	}
	return nil
}

// withTimeout bounds ctx by h's timeout, whose expiry says so.
func withTimeout(ctx context.Context, h Hook) (context.Context, context.CancelFunc) {
	d := h.timeout()
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("timed out after %s (raise it with hooks: %s: {run, timeout})", clock.Format(d), h.Name))
}

// failure is err, with the last line of the hook's stderr when err does
// not carry it already.
func failure(err error, stderr *Lines) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) && strings.TrimSpace(ee.Stderr) == "" && stderr.Last() != "" {
		return fmt.Errorf("%w: %s", err, stderr.Last())
	}
	return err
}
