package release

import (
	"context"
	"fmt"

	"github.com/org/next-deploy/pkg/remote"
)

// cmd builds the remote command of one operation: the prelude, then the
// operation's fixed script; the deploy root is $1, the rest follow.
func (l Layout) cmd(script string, args ...string) remote.Cmd {
	return remote.Cmd{Script: prelude + script, Args: append([]string{l.Root}, args...)}
}

// run runs one operation and returns its stdout.
func (l Layout) run(ctx context.Context, h remote.Host, what, script string, args ...string) ([]byte, error) {
	res, err := h.Run(ctx, l.cmd(script, args...))
	if err != nil {
		return nil, fmt.Errorf("%s in %s on %s: %w", what, l.Root, h.Name(), err)
	}
	return res.Stdout, nil
}

const ensureScript = `
mkdir -p "$root/releases" "$root/.next-deploy" || fail "cannot create $root/releases: check that the login owns the deploy path or its parent"
[ -w "$root/releases" ] || fail "$root/releases is not writable by $(id -un)"
[ -w "$root/.next-deploy" ] || fail "$root/.next-deploy is not writable by $(id -un)"
if [ -e "$root/current" ] && [ ! -L "$root/current" ]; then
	fail "$root/current exists and is not a symlink: move it away, next-deploy switches current as a symlink"
fi
`

// Ensure creates the layout (releases/, .next-deploy/) when missing and
// checks that it is writable and that current, if any, is a symlink.
func (l Layout) Ensure(ctx context.Context, h remote.Host) error {
	_, err := l.run(ctx, h, "prepare layout", ensureScript)
	return err
}

const switchScript = `
id=$1
[ -d "$root/releases/$id" ] || fail "release $id is not on this host (no $root/releases/$id)"
[ -f "$root/releases/$id/.next-deploy/release.json" ] || fail "release $id is incomplete (no manifest): deliver it again"
if [ -e "$root/current" ] && [ ! -L "$root/current" ]; then
	fail "$root/current exists and is not a symlink"
fi
tmp="$root/.current.tmp.$$"
rm -f "$tmp"
ln -s "releases/$id" "$tmp"
# rename(2) replaces the old link in one step: current never goes missing.
mv -T "$tmp" "$root/current" || { rm -f "$tmp"; fail "cannot switch $root/current"; }
`

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
