package pm2

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/org/next-deploy/pkg/remote"
)

// MigratePath is the helper ecosystem that starts one app of the real
// ecosystem under another name (see Migrate), relative to the root.
const MigratePath = ".next-deploy/migrate.config.js"

// migrateJS is MigratePath's content. pm2 evaluates an ecosystem in its
// CLI process, so the app to copy comes from the environment of that one
// pm2 start.
const migrateJS = `// next-deploy: starts one app of an ecosystem under another name, so that
// an app pinned to a release can be replaced without downtime. Written and
// used by next-deploy activate; do not edit.
'use strict';
const c = require(process.env.NEXT_DEPLOY_ECOSYSTEM);
const apps = Array.isArray(c) ? c : (c && Array.isArray(c.apps) ? c.apps : [c]);
module.exports = {
  apps: apps
    .filter((a) => a.name === process.env.NEXT_DEPLOY_APP)
    .map((a) => Object.assign({}, a, { name: process.env.NEXT_DEPLOY_AS })),
};
`

// writeScript writes stdin to $root/$1 atomically (temporary file, then
// rename). With $2 = create an existing file is kept.
const writeScript = `
f=$root/$1
mkdir -p "$(dirname "$f")"
if [ "$2" = create ] && [ -e "$f" ]; then
	echo KEPT
	exit 0
fi
tmp="$f.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$f"
echo WROTE
`

// writeFile writes content to rel (relative to the root); with create it
// keeps an existing file. It reports whether it wrote.
func (r Runner) writeFile(ctx context.Context, h remote.Host, rel string, content []byte, create bool) (bool, error) {
	mode := "replace"
	if create {
		mode = "create"
	}
	c := remote.Cmd{
		Script: prelude + writeScript,
		Args:   []string{r.Root, r.Env, rel, mode},
		Stdin:  bytes.NewReader(content),
	}
	res, err := h.Run(ctx, c)
	if err != nil {
		return false, fmt.Errorf("write %s in %s on %s: %w", rel, r.Root, h.Name(), err)
	}
	return strings.TrimSpace(string(res.Stdout)) == "WROTE", nil
}

// Install puts next-deploy's files on the host: the drain preload and the
// migrate helper, always (they belong to this version of next-deploy), and
// ecosystem as the ecosystem file when the host has none (a host's own
// ecosystem is never overwritten). It reports whether it wrote the
// ecosystem.
func (r Runner) Install(ctx context.Context, h remote.Host, ecosystem []byte) (bool, error) {
	if _, err := r.writeFile(ctx, h, PreloadPath, Preload, false); err != nil {
		return false, err
	}
	if _, err := r.writeFile(ctx, h, MigratePath, []byte(migrateJS), false); err != nil {
		return false, err
	}
	if ecosystem == nil {
		return false, nil
	}
	return r.writeFile(ctx, h, r.Ecosystem, ecosystem, true)
}
