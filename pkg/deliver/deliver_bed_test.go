package deliver_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
)

// packTree packs a small release tree, plus extra bytes of random (so
// incompressible) content, with the real pack.
func packTree(t *testing.T, id string, randomBytes int) deliver.Artifact {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		"server.js":                "require('http').createServer((q, s) => s.end('" + id + "')).listen(3000)\n",
		".next/static/chunks/a.js": "console.log('" + id + "')\n",
		"public/robots.txt":        "User-agent: *\n",
	}
	writeTree(t, src, files)
	if randomBytes > 0 {
		b := make([]byte, randomBytes)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, "blob.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := archive.Pack(context.Background(), archive.Options{Source: src, Release: id, Format: release.Gzip, Level: 1, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a, gotID, err := deliver.Inspect(context.Background(), res.Artifact, "")
	if err != nil || gotID != id {
		t.Fatalf("Inspect(%s) = %q, %v", res.Artifact, gotID, err)
	}
	return a
}

// writeTree writes files (path: content) under dir, mode 644.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type fleetT struct {
	b       *bed.Bed
	targets []inventory.Target
	pool    *remote.Pool
	layout  release.Layout
}

func newFleet(t *testing.T, b *bed.Bed) *fleetT {
	t.Helper()
	targets, err := inventory.Parse(b.HostsFlag())
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.NewDialer(remote.SSHConfig{KnownHosts: b.KnownHosts, KeyFile: b.ClientKeyFile, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(d)
	t.Cleanup(func() { pool.Close() })
	return &fleetT{b: b, targets: targets, pool: pool, layout: release.Layout{Root: "~/app"}}
}

// releasesDir lists what a host's releases/ holds.
func releasesDir(t *testing.T, h *bed.Host) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(h.DeployPath, "releases"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestDeliverToEveryHostLeavesCurrentAlone(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 3})
	f := newFleet(t, b)
	ctx := context.Background()
	old := packTree(t, "v1", 0)
	if _, err := deliver.Run(ctx, f.pool, f.targets, f.layout, old, deliver.Options{Release: "v1"}); err != nil {
		t.Fatal(err)
	}
	for _, h := range b.Hosts {
		b.RunAs(t, h, `ln -s releases/v1 ~/app/current`)
	}
	a := packTree(t, "v2", 1<<20)
	made := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	rs, err := deliver.Run(ctx, f.pool, f.targets, f.layout, a, deliver.Options{Release: "v2", Clock: clock.NewFake(made)})
	if err != nil {
		t.Fatalf("deliver: %v (%+v)", err, rs)
	}
	for i, h := range b.Hosts {
		if rs[i].State != deliver.Delivered || rs[i].Bytes < a.Bytes || rs[i].Bytes > a.Bytes+64<<10 {
			t.Errorf("%s: %+v, want delivered with %d bytes and the file manifest", h.Name(), rs[i], a.Bytes)
		}
		host, _ := f.pool.Get(ctx, f.targets[i])
		st, err := f.layout.State(ctx, host)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Has("v2") || st.Find("v2").Manifest.SHA256 != a.SHA256 || st.Current != "v1" {
			t.Errorf("%s: state %+v, want v2 complete with the artifact's sha256 and current still v1", h.Name(), st)
		} else if got := st.Find("v2").Manifest.Time; !got.Equal(made) {
			t.Errorf("%s: manifest time %s, want %s from Options.Clock", h.Name(), got, made)
		}
		if got := b.RunAs(t, h, `cat ~/app/current/.next/static/chunks/a.js`); !strings.Contains(got, "v1") {
			t.Errorf("%s: current serves %q, want v1 untouched", h.Name(), got)
		}
		if got := releasesDir(t, h); strings.Join(got, ",") != "v1,v2" {
			t.Errorf("%s: releases/ = %v, want v1,v2 and no incoming", h.Name(), got)
		}
	}
	// Again: a no-op per host.
	rs, err = deliver.Run(ctx, f.pool, f.targets, f.layout, a, deliver.Options{Release: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.State != deliver.AlreadyDelivered || r.Bytes != 0 {
			t.Errorf("re-run on %s: %+v, want already delivered, 0 bytes", r.Host, r)
		}
	}
	// Same id, other content: refused, releases are immutable.
	other := packTree(t, "v2", 10)
	_, err = deliver.Run(ctx, f.pool, f.targets, f.layout, other, deliver.Options{Release: "v2"})
	var ce *release.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, deliver.ErrPreflight) {
		t.Errorf("delivering other content as v2 = %v, want refused in preflight naming the conflict", err)
	}
	// A finding, not a failure: the Face exits 3.
	var finding interface{ Finding() bool }
	if !errors.As(err, &finding) || !finding.Finding() {
		t.Errorf("delivering other content as v2 = %v, want a finding", err)
	}
}

// cutting wraps the pool: the first upload to the chosen host has its SSH
// connections dropped by the server after a third of the artifact.
type cutting struct {
	*remote.Pool
	b    *bed.Bed
	host *bed.Host
	size int64
	done atomic.Bool
	t    *testing.T
}

func (c *cutting) Get(ctx context.Context, t inventory.Target) (remote.Host, error) {
	h, err := c.Pool.Get(ctx, t)
	if err != nil || t.Host != c.host.Addr {
		return h, err
	}
	return &cutHost{Host: h, c: c}, nil
}

type cutHost struct {
	remote.Host
	c *cutting
}

func (h *cutHost) Run(ctx context.Context, cmd remote.Cmd) (*remote.Result, error) {
	if cmd.Stdin != nil && !h.c.done.Load() {
		cmd.Stdin = &cutReader{r: cmd.Stdin, at: h.c.size / 3, cut: func() {
			if h.c.done.CompareAndSwap(false, true) {
				h.c.b.DropConnections(h.c.t, h.c.host)
			}
		}}
	}
	return h.Host.Run(ctx, cmd)
}

type cutReader struct {
	r    io.Reader
	n    int64
	at   int64
	cut  func()
	once sync.Once
}

func (r *cutReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.n >= r.at {
		r.once.Do(r.cut)
	}
	return n, err
}

func TestCutUploadIsRetriedAndNeverHalfVisible(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 2})
	f := newFleet(t, b)
	a := packTree(t, "cut1", 24<<20)
	victim := b.Hosts[1]
	conn := &cutting{Pool: f.pool, b: b, host: victim, size: a.Bytes, t: t}

	// A watcher: whenever releases/cut1 exists, it must be complete.
	final := filepath.Join(victim.DeployPath, "releases", "cut1")
	stop := make(chan struct{})
	var halfSeen, looks atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := os.Stat(final); err == nil {
				looks.Add(1)
				if _, err := os.Stat(filepath.Join(final, release.ManifestPath)); err != nil {
					halfSeen.Add(1)
				}
				if fi, err := os.Stat(filepath.Join(final, "blob.bin")); err != nil || fi.Size() != 24<<20 {
					halfSeen.Add(1)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	clk := clock.NewFake(time.Now())
	rs, err := deliver.Run(context.Background(), conn, f.targets, f.layout, a, deliver.Options{Release: "cut1", Retries: 2, Clock: clk})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("deliver with a cut: %v", err)
	}
	if !conn.done.Load() {
		t.Fatal("the connection was never cut: the test proved nothing")
	}
	if rs[1].Attempts != 2 || rs[1].State != deliver.Delivered {
		t.Errorf("victim: %+v, want delivered on the second attempt", rs[1])
	}
	if rs[0].Attempts != 1 {
		t.Errorf("other host: %d attempts, want 1", rs[0].Attempts)
	}
	if n := len(clk.Sleeps()); n != 1 {
		t.Errorf("waited %d times before a retry, want once (the victim's second attempt)", n)
	}
	if halfSeen.Load() != 0 {
		t.Errorf("releases/cut1 was seen incomplete %d times", halfSeen.Load())
	}
	if got := releasesDir(t, victim); strings.Join(got, ",") != "cut1" {
		t.Errorf("victim releases/ = %v, want only cut1 (the cut upload cleaned)", got)
	}
}

func TestWrongHostKeyOnOneHostSendsNothingAnywhere(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 3})
	b.RegenerateHostKey(t, b.Hosts[2])
	f := newFleet(t, b)
	a := packTree(t, "k1", 0)
	rs, err := deliver.Run(context.Background(), f.pool, f.targets, f.layout, a, deliver.Options{Release: "k1"})
	if !errors.Is(err, deliver.ErrPreflight) {
		t.Fatalf("deliver = %v, want a preflight failure", err)
	}
	var hk *remote.HostKeyError
	if !errors.As(rs[2].Err, &hk) || !hk.Changed || !strings.Contains(rs[2].Error, b.Hosts[2].Addr) {
		t.Errorf("host 2 result = %+v, want a changed host key naming it", rs[2])
	}
	for i, h := range b.Hosts {
		if i < 2 && rs[i].State != deliver.NotSent {
			t.Errorf("%s: %s, want not sent", h.Name(), rs[i].State)
		}
		for _, name := range releasesDir(t, h) {
			t.Errorf("%s holds releases/%s: something was sent", h.Name(), name)
		}
	}
}

func TestTooSmallDiskIsRefusedInPreflight(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 1})
	h := b.Hosts[0]
	small := filepath.Join(h.Home, "small")
	if err := os.MkdirAll(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,uid="+uidOf(t, b, h), "tmpfs", small).CombinedOutput(); err != nil {
		bed.SkipOrFail(t, "cannot mount a tmpfs: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", small).Run() })
	f := newFleet(t, b)
	f.layout = release.Layout{Root: "~/small/app"}
	a := packTree(t, "big1", 8<<20)
	rs, err := deliver.Run(context.Background(), f.pool, f.targets, f.layout, a, deliver.Options{Release: "big1"})
	if !errors.Is(err, deliver.ErrPreflight) || !strings.Contains(rs[0].Error, "free") {
		t.Fatalf("deliver to a 4 MiB disk = %v (%+v), want refused for space", err, rs)
	}
	if out := b.RunAs(t, h, `ls -A ~/small/app/releases`); strings.TrimSpace(out) != "" {
		t.Errorf("releases/ holds %q after a refused delivery", out)
	}
}

func uidOf(t *testing.T, b *bed.Bed, h *bed.Host) string {
	return strings.TrimSpace(b.RunAs(t, h, `id -u`))
}
