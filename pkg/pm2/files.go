package pm2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/org/next-deploy/pkg/remote"
)

// MigratePath is the helper ecosystem that starts one app of the real
// ecosystem under another name (see Migrate), relative to the root.
const MigratePath = ".next-deploy/migrate.config.js"

// writeFile writes content to rel (relative to the root) atomically and
// checked against its sha256 (write.sh); with create it keeps an existing
// file. It reports whether it wrote.
func (r Runner) writeFile(ctx context.Context, h remote.Host, rel string, content []byte, create bool) (bool, error) {
	mode := "replace"
	if create {
		mode = "create"
	}
	c := r.cmd(writeScript, rel, mode, sha256Hex(content))
	c.Stdin = bytes.NewReader(content)
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
	return r.InstallOn(ctx, h, nil, ecosystem)
}

// InstallOn is Install on the host Inspect found as s: a file of
// next-deploy's that s found with the content this version writes is
// not written again (two commands fewer per host and deploy, issue 15
// item 3). A nil s writes them all.
func (r Runner) InstallOn(ctx context.Context, h remote.Host, s *Site, ecosystem []byte) (bool, error) {
	for _, f := range []struct {
		rel     string
		content []byte
	}{{PreloadPath, Preload}, {MigratePath, []byte(migrateJS)}} {
		if s != nil && s.Sums[f.rel] == sha256Hex(f.content) {
			continue
		}
		if _, err := r.writeFile(ctx, h, f.rel, f.content, false); err != nil {
			return false, err
		}
	}
	if ecosystem == nil {
		return false, nil
	}
	return r.writeFile(ctx, h, r.Ecosystem, ecosystem, true)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// WriteEcosystem replaces the ecosystem file with content, atomically:
// for an ecosystem next-deploy wrote (Site.OursToRewrite), or to put back
// the one a failed activation replaced.
func (r Runner) WriteEcosystem(ctx context.Context, h remote.Host, content []byte) error {
	_, err := r.writeFile(ctx, h, r.Ecosystem, content, false)
	return err
}

const removeScript = `
rm -f -- "$root/$1"
`

// RemoveEcosystem removes the ecosystem file: the one a failed first
// activation wrote, so the host is left as it was.
func (r Runner) RemoveEcosystem(ctx context.Context, h remote.Host) error {
	_, err := r.run(ctx, h, "remove "+r.Ecosystem, removeScript, r.Ecosystem)
	return err
}
