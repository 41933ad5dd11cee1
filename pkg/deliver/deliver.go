// Package deliver puts one packed release on every host, side by side with
// the running one: preflight on every host before the first byte moves,
// then a streamed, checksummed upload per host (bounded in parallel,
// retried from scratch on transient failures), made visible by a rename.
// It composes remote, release and fleet; it reimplements none of them.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/pkg/tarball"
)

// Connector gives a connected host for a target (remote.Pool).
type Connector = fleet.Connector

// Artifact is the checked artifact to deliver.
type Artifact struct {
	Path   string
	Format release.Format
	SHA256 string
	Bytes  int64
	// Files and Unpacked are the regular files in it and their total size.
	Files    int
	Unpacked int64
	AppDir   string
	// FileList is the release's file manifest, made from the artifact.
	FileList release.Files
	// Holding are its files that hold the release id (release.Holding).
	Holding release.Holding
	// held is what Inspect kept of its content in memory.
	held *tarball.Held
}

// Options tune a delivery.
type Options struct {
	Release  string
	Parallel int
	// Retries is how many times one host's upload is started again after a
	// transient failure.
	Retries int
	// StaleAfter is how long an upload must have been abandoned before
	// it is removed (default release.DefaultStaleAfter).
	StaleAfter time.Duration
	RunURL     string
	// Delta sends a host only what changed since a release it holds
	// (see delta.go); off, every host gets the whole artifact.
	Delta bool
	// Shared are the files and folders (a trailing /) every release
	// links from <path>/shared/, relative to the app dir (release.CheckShared):
	// the preflight checks that every host has them, the release gets
	// the links in place of what the artifact holds there.
	Shared []string
	// Progress is called now and then during each upload.
	Progress func(host string, sent, total int64, elapsed time.Duration)
	// Clock times the manifest and the waits between retries (default:
	// the wall clock).
	Clock clock.Clock
}

// Result is one host's outcome.
type Result struct {
	Host string `json:"host"`
	// State is "delivered", "already delivered", "failed" or "not sent".
	State string `json:"state"`
	// Mode is "delta" or "full"; Base the release a delta was assembled
	// from; Fallback why a delta was not possible or failed, and a full
	// upload followed.
	Mode     string `json:"mode,omitempty"`
	Base     string `json:"base,omitempty"`
	Fallback string `json:"fallback,omitempty"`
	// Bytes is what went to the host (the artifact, or the delta with
	// its edit), SentFiles the files in it; Linked and Copied the files a
	// delta took from the base.
	Bytes int64 `json:"bytes"`
	// Received is what the host sent back to describe a delta's base.
	Received  int64 `json:"received_bytes"`
	SentFiles int   `json:"sent_files"`
	Linked    int   `json:"linked"`
	// Derived are files the host made from the base's by putting the
	// new release id in place of the base's (release.Delta.Derive).
	Derived  int           `json:"derived"`
	Copied   int           `json:"copied"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	Attempts int           `json:"attempts"`
	Cleaned  int           `json:"cleaned_uploads"`
	// Unlinked are shared entries a release the host already held was
	// delivered without (before they were in shared): it has no link
	// for them.
	Unlinked []string `json:"unlinked_shared,omitempty"`
	Err      error    `json:"-"`
	Error    string   `json:"error,omitempty"`
}

// States of a host.
const (
	Delivered        = "delivered"
	AlreadyDelivered = "already delivered"
	Failed           = "failed"
	NotSent          = "not sent"
)

// ErrPreflight is returned when a host failed its preflight: nothing was
// sent anywhere.
var ErrPreflight = errors.New("preflight failed: nothing was sent to any host")

// freeMargin is kept free on a host beyond the release and the artifact.
const freeMargin = 64 << 20

// Run delivers a to every target under layout. It returns every host's
// result; the error says whether the delivery as a whole failed. When the
// only problem is hosts holding another artifact under the release id,
// the error is a finding (its Finding method says so), not a failure.
func Run(ctx context.Context, conn Connector, targets []inventory.Target, layout release.Layout, a Artifact, o Options) ([]Result, error) {
	d := &delivery{conn: conn, layout: layout, a: a, o: o.withDefaults(), deltas: newDeltaCache(a), plans: make([]*plan, len(targets))}
	d.filesGz = sync.OnceValue(func() []byte { return release.GzipFiles(a.FileList) })
	defer d.deltas.close()
	pre := fleet.Each(ctx, targets, d.o.Parallel, func(ctx context.Context, i int, t inventory.Target) (*release.Readiness, error) {
		r, err := d.preflight(ctx, t)
		switch {
		case err != nil:
		case r.Base != nil:
			// The plan is known: make the payload while the other hosts'
			// preflights run (deltaCache makes each one once).
			d.plans[i] = d.deltas.start(ctx, r.Base, a.FileList, d.holding())
		case r.BaseErr != nil:
			d.plans[i] = &plan{err: r.BaseErr}
		}
		return r, err
	})
	results := make([]Result, len(targets))
	failed := 0
	for i, p := range pre {
		results[i] = Result{Host: p.Target.String(), State: NotSent}
		switch {
		case p.Err != nil:
			results[i].State, results[i].Err = Failed, p.Err
			failed++
		case p.Value.Existing != nil:
			results[i].State, results[i].Cleaned = AlreadyDelivered, p.Value.Cleaned
			results[i].Unlinked = unlinked(p.Value.Existing.Shared, d.o.Shared)
		default:
			results[i].Cleaned = p.Value.Cleaned
		}
	}
	if failed > 0 {
		return finish(results), findingIfConflicts(results, fmt.Errorf("%w (%d of %d hosts failed)", ErrPreflight, failed, len(targets)))
	}
	ups := fleet.Each(ctx, targets, d.o.Parallel, func(ctx context.Context, i int, t inventory.Target) (Result, error) {
		if results[i].State == AlreadyDelivered {
			return results[i], nil
		}
		return d.upload(ctx, t, results[i], d.plans[i])
	})
	for i, u := range ups {
		if u.Value.Host != "" { // else fleet.Each never started it (cancelled): keep its name
			results[i] = u.Value
		}
		results[i].Duration = u.Duration
		if u.Err != nil {
			results[i].State, results[i].Err = Failed, u.Err
			failed++
		}
	}
	if failed > 0 {
		return finish(results), findingIfConflicts(results, fmt.Errorf("delivery of %s failed on %d of %d hosts", a.Path, failed, len(targets)))
	}
	return finish(results), nil
}

// delivery is one Run: what every host's preflight and upload share.
type delivery struct {
	conn   Connector
	layout release.Layout
	a      Artifact
	o      Options
	deltas *deltaCache
	// filesGz is the file manifest gzip'd, made once for every full
	// upload (the runner's CPU per host stays flat).
	filesGz func() []byte
	// plans are each host's delta, from the base its preflight found
	// (nil: no base, or no delta asked).
	plans []*plan
}

// holding are the artifact's files that hold the release id, when the
// artifact was inspected for this release's id (else none: every
// changed file is sent).
func (d *delivery) holding() release.Holding {
	if d.a.Holding.ID != d.o.Release {
		return release.Holding{}
	}
	return d.a.Holding
}

func (d *delivery) preflight(ctx context.Context, t inventory.Target) (*release.Readiness, error) {
	h, err := d.conn.Get(ctx, t)
	if err != nil {
		return nil, err
	}
	a := d.a
	preflight := d.layout.Preflight
	if d.o.Delta {
		preflight = d.layout.PreflightDelta
	}
	r, err := preflight(ctx, h, d.o.Release, a.Format, d.o.StaleAfter, d.o.Shared)
	if err != nil {
		return nil, err
	}
	if r.Existing != nil {
		if r.Existing.SHA256 != a.SHA256 {
			return nil, &release.ConflictError{Host: h.Name(), ID: d.o.Release, Have: r.Existing.SHA256, Want: a.SHA256}
		}
		return r, nil
	}
	need := a.Unpacked + a.Bytes + freeMargin
	if r.FreeBytes < need {
		return nil, fmt.Errorf("preflight on %s: %d MiB free under %s, need %d MiB (release %d MiB unpacked + artifact %d MiB + margin): free disk space or prune old releases",
			h.Name(), r.FreeBytes>>20, d.layout.Root, need>>20, a.Unpacked>>20, a.Bytes>>20)
	}
	return r, nil
}

// upload sends the release to one host: a delta when the host holds a
// base for it, else (or when the delta fails there) the whole artifact,
// started again from scratch after a transient failure: a new incoming
// folder, the whole artifact.
func (d *delivery) upload(ctx context.Context, t inventory.Target, r Result, p *plan) (Result, error) {
	r.Mode = "full"
	if d.o.Delta {
		switch done, err := d.tryDelta(ctx, t, &r, p); {
		case done:
			return r, nil
		case err != nil && (ctx.Err() != nil || release.IsConflict(err)):
			return r, err
		case err != nil:
			r.Fallback = err.Error()
			r.Base = ""
		}
	}
	var last error
	for attempt := 1; attempt <= d.o.Retries+1; attempt++ {
		r.Attempts = attempt
		if attempt > 1 {
			if err := d.o.Clock.Sleep(ctx, backoff(attempt)); err != nil {
				return r, fmt.Errorf("deliver to %s: %w (after: %w)", t, err, last)
			}
		}
		got, err := d.uploadOnce(ctx, t)
		if err == nil {
			r.State, r.Bytes, r.SentFiles = Delivered, got.Sent, d.a.Files
			if !got.Made {
				r.State = AlreadyDelivered
			}
			return r, nil
		}
		last = err
		if !transient(ctx, err) {
			break
		}
	}
	return r, last
}

func (d *delivery) uploadOnce(ctx context.Context, t inventory.Target) (*release.Received, error) {
	h, err := d.conn.Get(ctx, t)
	if err != nil {
		return nil, err
	}
	a := d.a
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	defer f.Close()
	return d.layout.Receive(ctx, h, release.Upload{
		Manifest: d.manifest(), Format: a.Format, Files: a.FileList, FilesGzip: d.filesGz(),
		Payload: d.progress(f, h.Name(), a.Bytes), PayloadBytes: a.Bytes, PayloadSHA256: a.SHA256,
	})
}

// manifest is the release.json of the release.
func (d *delivery) manifest() release.Manifest {
	a := d.a
	return release.Manifest{ID: d.o.Release, SHA256: a.SHA256, Bytes: a.Bytes, Files: a.Files, AppDir: a.AppDir, Time: d.o.Clock.Now().UTC(), RunURL: d.o.RunURL, Shared: d.o.Shared}
}

// unlinked are the entries of want a release linked with have lacks.
func unlinked(have, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// progress reports the reading of one host's payload to Options.Progress.
func (d *delivery) progress(r io.Reader, host string, total int64) io.Reader {
	return &progressReader{r: r, total: total, host: host, clock: d.o.Clock, start: d.o.Clock.Now(), fn: d.o.Progress}
}

// conflicts is a delivery stopped by findings alone: hosts that hold
// another artifact under the release id. Nothing of ours failed; the
// user must pick a new id (the Face exits 3).
type conflicts struct{ error }

func (c conflicts) Unwrap() error { return c.error }

// Finding marks the error as a finding (internal/cli.Finder).
func (conflicts) Finding() bool { return true }

// findingIfConflicts returns err as a finding when every host that failed
// failed only because it holds another artifact under the id, joined
// with those conflicts; else err as it is, a failure.
func findingIfConflicts(rs []Result, err error) error {
	var cs []error
	for _, r := range rs {
		if r.Err == nil {
			continue
		}
		if !release.IsConflict(r.Err) {
			return err
		}
		cs = append(cs, r.Err)
	}
	if len(cs) == 0 {
		return err
	}
	return conflicts{fmt.Errorf("%w: %w", err, errors.Join(cs...))}
}

// transient is a failure worth starting the host again: not a conflict,
// not bad input, not our own cancellation.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || release.IsConflict(err) || errors.Is(err, release.ErrInvalid) {
		return false
	}
	// A full disk stays full for the next attempt: three more full
	// uploads only delay the error (found by the fault suite,
	// TestFaultDiskFillsDuringUnpack). tar and the shell say it in
	// these words; the host's error carries their stderr.
	if strings.Contains(err.Error(), "No space left on device") {
		return false
	}
	var hk *remote.HostKeyError
	return !errors.As(err, &hk) && !errors.Is(err, remote.ErrConfig)
}

// backoff is 1s, 2s, 4s, ... up to 30s, with jitter so hosts that failed
// together do not retry in lockstep.
func backoff(attempt int) time.Duration {
	d := time.Second << (attempt - 2)
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	return d/2 + rand.N(d/2+1)
}

func finish(rs []Result) []Result {
	for i := range rs {
		rs[i].Seconds = rs[i].Duration.Seconds()
		if rs[i].Err != nil {
			rs[i].Error = rs[i].Err.Error()
		}
	}
	return rs
}

func (o Options) withDefaults() Options {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = release.DefaultStaleAfter
	}
	o.Clock = clock.Or(o.Clock)
	return o
}

// progressReader reports an upload's progress about every two seconds.
type progressReader struct {
	r     io.Reader
	total int64
	sent  int64
	host  string
	clock clock.Clock
	start time.Time
	last  time.Time
	fn    func(host string, sent, total int64, elapsed time.Duration)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	if p.fn == nil {
		return n, err
	}
	if now := p.clock.Now(); now.Sub(p.last) >= 2*time.Second || err == io.EOF {
		p.last = now
		p.fn(p.host, p.sent, p.total, now.Sub(p.start))
	}
	return n, err
}
