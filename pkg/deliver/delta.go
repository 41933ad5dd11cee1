package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/tarball"
)

// A delta delivery sends a host only the files that differ from a release
// it already holds (its base: the current release, else the newest
// complete one), in the artifact's format, with the lines of the file
// manifest that differ. The host assembles the release from the base and
// the delta and verifies every file against the manifest before the
// rename (release.Receive). Anything unexpected on the host, a missing
// base or a verification that fails, makes that host get the whole
// artifact instead; the result says why.

// tryDelta delivers the release to one host as a delta. It reports
// whether it did; when not, err (or r.Fallback, when no delta was
// possible) says why, and the caller sends the whole artifact.
func (d *delivery) tryDelta(ctx context.Context, t inventory.Target, r *Result) (bool, error) {
	h, err := d.conn.Get(ctx, t)
	if err != nil {
		return false, err
	}
	a, layout, id := d.a, d.layout, d.o.Release
	b, err := layout.DeltaBase(ctx, h, id)
	if err != nil {
		return false, err
	}
	if b == nil {
		r.Fallback = "no base: the host holds no release with a file manifest"
		return false, nil
	}
	plan := b.Plan(a.FileList)
	if err := layout.Derive(ctx, h, b, id, a.FileList, plan); err != nil {
		return false, err
	}
	r.Received = b.Bytes + plan.DeriveReceived
	p := d.deltas.payload(ctx, b.ID, plan)
	if p.err != nil {
		return false, fmt.Errorf("delta from %s: %w", b.ID, p.err)
	}
	if p.bytes+int64(len(plan.Edit)) >= a.Bytes*9/10 {
		r.Fallback = fmt.Sprintf("a delta from %s would be %d%% of the artifact", b.ID, 100*(p.bytes+int64(len(plan.Edit)))/max(a.Bytes, 1))
		return false, nil
	}
	f, err := os.Open(p.path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r.Base, r.Attempts = b.ID, 1
	got, err := layout.Receive(ctx, h, release.Upload{
		Manifest: d.manifest(), Format: a.Format, Files: a.FileList,
		Payload: d.progress(f, h.Name(), p.bytes), PayloadBytes: p.bytes, PayloadSHA256: p.sha256,
		Base: b.ID, Edit: plan.Edit, Derive: plan.Derive,
	})
	if err != nil {
		return false, fmt.Errorf("delta from %s: %w", b.ID, err)
	}
	r.Mode, r.State, r.Bytes, r.SentFiles = "delta", Delivered, got.Sent+plan.DeriveSent, p.files
	r.Linked, r.Copied, r.Derived = got.Linked, got.Copied, plan.Derived
	if !got.Made {
		r.State = AlreadyDelivered
	}
	return true, nil
}

// deltaCache makes each distinct delta once, however many hosts share a
// base, in a temporary directory removed by close.
type deltaCache struct {
	a    Artifact
	mu   sync.Mutex
	dir  string
	made map[string]*deltaPayload
}

type deltaPayload struct {
	once   sync.Once
	path   string
	sha256 string
	bytes  int64
	files  int
	err    error
}

func newDeltaCache(a Artifact) *deltaCache {
	return &deltaCache{a: a, made: map[string]*deltaPayload{}}
}

// payload returns the delta against base for plan d.
func (c *deltaCache) payload(ctx context.Context, base string, d *release.Delta) *deltaPayload {
	sum := sha256.Sum256([]byte(base + "\x00" + string(d.Edit) + "\x00" + string(d.Derive)))
	key := hex.EncodeToString(sum[:8])
	c.mu.Lock()
	p, ok := c.made[key]
	if !ok {
		p = &deltaPayload{}
		c.made[key] = p
	}
	c.mu.Unlock()
	p.once.Do(func() {
		dir, err := c.tempDir()
		if err != nil {
			p.err = err
			return
		}
		p.err = p.write(ctx, c.a, filepath.Join(dir, "delta-"+key+c.a.Format.Ext()), d.Send)
	})
	return p
}

func (c *deltaCache) tempDir() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "next-deploy-delta-")
		if err != nil {
			return "", err
		}
		c.dir = dir
	}
	return c.dir, nil
}

func (p *deltaPayload) write(ctx context.Context, a Artifact, path string, send map[string]bool) error {
	in, err := os.Open(a.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	h := sha256.New()
	p.files, err = tarball.Subset(ctx, in, a.Format, io.MultiWriter(out, h), func(name string) bool { return send[name] })
	if err != nil {
		return fmt.Errorf("make the delta of %s: %w", a.Path, err)
	}
	fi, err := out.Stat()
	if err != nil {
		return err
	}
	p.path, p.bytes, p.sha256 = path, fi.Size(), hex.EncodeToString(h.Sum(nil))
	return out.Close()
}

func (c *deltaCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}
