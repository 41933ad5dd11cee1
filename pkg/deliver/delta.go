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

// plan is one host's delta: its base (from the preflight), what differs,
// and the payload, made in the background from the moment the plan is
// known.
type plan struct {
	base  *release.Base
	delta *release.Delta
	p     *deltaPayload
	err   error // why the host's base could not be read
}

// tryDelta delivers the release to one host as the delta p. It reports
// whether it did; when not, err (or r.Fallback, when no delta was
// possible) says why, and the caller sends the whole artifact.
func (d *delivery) tryDelta(ctx context.Context, t inventory.Target, r *Result, p *plan) (bool, error) {
	switch {
	case p == nil:
		r.Fallback = "no base: the host holds no release with a file manifest"
		return false, nil
	case p.err != nil:
		return false, p.err
	}
	h, err := d.conn.Get(ctx, t)
	if err != nil {
		return false, err
	}
	a, b, plan := d.a, p.base, p.delta
	r.Received = b.Bytes
	pl := p.p.wait(ctx)
	if pl.err != nil {
		return false, fmt.Errorf("delta from %s: %w", b.ID, pl.err)
	}
	if pl.bytes+int64(len(plan.Edit)) >= a.Bytes*9/10 {
		r.Fallback = fmt.Sprintf("a delta from %s would be %d%% of the artifact", b.ID, 100*(pl.bytes+int64(len(plan.Edit)))/max(a.Bytes, 1))
		return false, nil
	}
	f, err := os.Open(pl.path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r.Base, r.Attempts = b.ID, 1
	got, err := d.layout.Receive(ctx, h, release.Upload{
		Manifest: d.manifest(), Format: a.Format, Files: a.FileList,
		Payload: d.progress(f, h.Name(), pl.bytes), PayloadBytes: pl.bytes, PayloadSHA256: pl.sha256,
		Base: b.ID, Edit: plan.Edit, Derive: plan.Derive,
	})
	if err != nil {
		return false, fmt.Errorf("delta from %s: %w", b.ID, err)
	}
	r.Mode, r.State, r.Bytes, r.SentFiles = "delta", Delivered, got.Sent, pl.files
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
	wg   sync.WaitGroup // payloads being made
	mu   sync.Mutex
	dir  string
	made map[string]*deltaPayload
}

type deltaPayload struct {
	once   sync.Once
	done   chan struct{} // closed when made
	key    string
	path   string
	sha256 string
	bytes  int64
	files  int
	err    error
}

func newDeltaCache(a Artifact) *deltaCache {
	return &deltaCache{a: a, made: map[string]*deltaPayload{}}
}

// start plans the delta of the release from base b and starts making
// its payload in the background.
func (c *deltaCache) start(ctx context.Context, b *release.Base, files release.Files, h release.Holding) *plan {
	d := b.Plan(files, h)
	p := &plan{base: b, delta: d, p: c.payload(b.ID, d)}
	c.wg.Go(func() { p.p.make(ctx, c, d) })
	return p
}

// wait waits until p is made (or ctx ends).
func (p *deltaPayload) wait(ctx context.Context) *deltaPayload {
	select {
	case <-p.done:
		return p
	case <-ctx.Done():
		return &deltaPayload{err: context.Cause(ctx)}
	}
}

// payload returns the entry of the delta against base for plan d, the
// same for every host with that delta; make makes it (once).
func (c *deltaCache) payload(base string, d *release.Delta) *deltaPayload {
	sum := sha256.Sum256([]byte(base + "\x00" + string(d.Edit) + "\x00" + string(d.Derive)))
	key := hex.EncodeToString(sum[:8])
	c.mu.Lock()
	p, ok := c.made[key]
	if !ok {
		p = &deltaPayload{key: key, done: make(chan struct{})}
		c.made[key] = p
	}
	c.mu.Unlock()
	return p
}

func (p *deltaPayload) make(ctx context.Context, c *deltaCache, d *release.Delta) {
	p.once.Do(func() {
		defer close(p.done)
		dir, err := c.tempDir()
		if err != nil {
			p.err = err
			return
		}
		p.err = p.write(ctx, c.a, filepath.Join(dir, "delta-"+p.key+c.a.Format.Ext()), d.Send)
	})
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

// write makes the payload from the files Inspect kept in memory when it
// kept them all, else from the artifact (read and decompressed again).
func (p *deltaPayload) write(ctx context.Context, a Artifact, path string, send map[string]bool) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	h := sha256.New()
	keep := func(name string) bool { return send[name] }
	n, ok, err := a.held.Subset(io.MultiWriter(out, h), a.Format, keep)
	if err == nil && !ok {
		n, err = subsetOfArtifact(ctx, a, io.MultiWriter(out, h), keep)
	}
	if err != nil {
		return fmt.Errorf("make the delta of %s: %w", a.Path, err)
	}
	p.files = n
	fi, err := out.Stat()
	if err != nil {
		return err
	}
	p.path, p.bytes, p.sha256 = path, fi.Size(), hex.EncodeToString(h.Sum(nil))
	return out.Close()
}

func subsetOfArtifact(ctx context.Context, a Artifact, w io.Writer, keep func(string) bool) (int, error) {
	in, err := os.Open(a.Path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	return tarball.Subset(ctx, in, a.Format, w, keep)
}

func (c *deltaCache) close() {
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}
