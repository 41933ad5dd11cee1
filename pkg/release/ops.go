package release

import (
	"context"
	"fmt"

	"github.com/org/next-deploy/pkg/remote"
)

// cmd builds the remote command of one operation: the prelude, then the
// operation's fixed script; the prelude takes the deploy root and the
// layout's names, the operation's arguments follow. The script goes
// compact (no comments).
func (l Layout) cmd(script string, args ...string) remote.Cmd {
	a := append(append([]string{l.Root}, layoutNames...), args...)
	return remote.Cmd{Script: compact(prelude + script), Args: a}
}

// run runs one operation and returns its stdout.
func (l Layout) run(ctx context.Context, h remote.Host, what, script string, args ...string) ([]byte, error) {
	res, err := h.Run(ctx, l.cmd(script, args...))
	if err != nil {
		return nil, fmt.Errorf("%s in %s on %s: %w", what, l.Root, h.Name(), err)
	}
	return res.Stdout, nil
}

// Ensure creates the layout (releases/, .next-deploy/) when missing and
// checks that it is writable and that current, if any, is a symlink.
func (l Layout) Ensure(ctx context.Context, h remote.Host) error {
	_, err := l.run(ctx, h, "prepare layout", ensureScript)
	return err
}

// Switch points current at releases/<id>: a temporary relative symlink
// renamed over current, so a reader always resolves either the old or the
// new release, never nothing. The release must be complete.
func (l Layout) Switch(ctx context.Context, h remote.Host, id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	_, err := l.run(ctx, h, "switch current to "+id, switchScript, id)
	return err
}
