package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// TestFaultDiskFillsDuringUnpack: one host's deploy root is a small file
// system (tmpfs, 128 MiB) that has room for the release when preflight
// looks; as soon as the upload starts there (its releases/.incoming-*
// appears) something else fills the disk, leaving room for a quarter of
// its unpacked tree (the upload itself is never stored: it streams into
// the tree). deliver fails on that host, exits 1 naming it
// and "No space left on device"; no releases/<id> appears there and the
// incoming folders of every attempt are gone; current keeps serving (load
// straight to that host, 0 failed); the other host got the release, and
// activate refuses it, naming the host that lacks it. Once the space is
// back, the same deliver completes it and activate goes through.
func TestFaultDiskFillsDuringUnpack(t *testing.T) {
	b := actBed(t)
	full := b.Hosts[1]
	faultTmpfs(t, b, full, "128m")
	s := actTiny{}
	s.ship(t, b, "s1", false)
	if status, out := faultActivate(t, b, "s1"); status != 0 {
		t.Fatalf("activate s1: exit %d\n%s", status, out)
	}
	const blob = 16 << 20
	art := faultArtifact(t, "big2", nil, blob)
	load := faultHostLoad(full, s.chunks("s1"))
	fill := &filler{root: full.DeployPath, id: "big2", leave: blob / 4}
	fill.start()
	status, out, errOut := actCLI(t, b, "deliver", "--artifact", art, "--delta", "off")
	fill.stop()
	t.Logf("deliver with %s filling up: exit %d\n%s%s", full.Name(), status, out, errOut)
	if fill.err != nil {
		t.Fatalf("filling %s: %v", full.Name(), fill.err)
	}
	if !fill.filled {
		t.Fatal("the upload never started on the small disk: the test proved nothing")
	}
	all := out + errOut
	if status != 1 || !strings.Contains(all, full.Addr) || !strings.Contains(all, "No space left on device") {
		t.Errorf("deliver to a filled disk: exit %d, want 1 naming %s and \"No space left on device\"", status, full.Addr)
	}
	if got := releasesDir(t, full); strings.Join(got, ",") != "s1" {
		t.Errorf("%s: releases/ = %v, want s1 only (no big2, no upload left)", full.Name(), got)
	}
	if got := releasesDir(t, b.Hosts[0]); strings.Join(got, ",") != "big2,s1" {
		t.Errorf("%s: releases/ = %v, want big2 delivered next to s1", b.Hosts[0].Name(), got)
	}
	faultStopLoad(t, "straight to "+full.Name(), load)
	faultIntact(t, b.Hosts...)
	servesEverywhere(t, b, "s1")
	status, all = faultActivate(t, b, "big2")
	if status != 1 || !strings.Contains(all, full.Addr) || !strings.Contains(all, "does not hold release big2") {
		t.Errorf("activate of a release one host lacks: exit %d, want 1 naming %s\n%s", status, full.Addr, all)
	}
	servesEverywhere(t, b, "s1")
	faultIntact(t, b.Hosts...)

	if err := os.Remove(fill.path()); err != nil {
		t.Fatal(err)
	}
	if status, out, errOut := actCLI(t, b, "deliver", "--artifact", art, "--delta", "off"); status != 0 {
		t.Fatalf("deliver once the space is back: exit %d\n%s%s", status, out, errOut)
	}
	if status, out := faultActivate(t, b, "big2"); status != 0 {
		t.Fatalf("activate big2: exit %d\n%s", status, out)
	}
	servesEverywhere(t, b, "big2")
	faultIntact(t, b.Hosts...)
}

// faultTmpfs mounts a tmpfs of size at h's (empty) deploy root, owned by
// h's user; it is unmounted (lazily: pm2 may still hold it) at the end.
func faultTmpfs(t *testing.T, b *bed.Bed, h *bed.Host, size string) {
	t.Helper()
	ids := strings.Fields(b.RunAs(t, h, `id -u; id -g`))
	opts := fmt.Sprintf("size=%s,mode=755,uid=%s,gid=%s", size, ids[0], ids[1])
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", h.DeployPath).CombinedOutput(); err != nil {
		bed.SkipOrFail(t, "cannot mount a tmpfs: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", h.DeployPath).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", h.DeployPath, err, out)
		}
	})
}

// filler waits for the upload of release id to start under root (its
// incoming folder appears), then fills the file system, leaving leave
// bytes free: not room enough for the unpacked tree.
type filler struct {
	root  string
	id    string
	leave int64

	done   chan struct{}
	wg     sync.WaitGroup
	filled bool
	err    error
}

func (f *filler) path() string { return filepath.Join(f.root, "fill.bin") }

func (f *filler) start() {
	f.done = make(chan struct{})
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.done:
				return
			default:
			}
			if f.incoming() {
				f.err = f.fill()
				f.filled = true
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
}

func (f *filler) stop() {
	close(f.done)
	f.wg.Wait()
}

func (f *filler) incoming() bool {
	des, _ := os.ReadDir(filepath.Join(f.root, release.ReleasesDir))
	for _, de := range des {
		if strings.HasPrefix(de.Name(), release.IncomingPfx+f.id+"-") {
			return true
		}
	}
	return false
}

func (f *filler) fill() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(f.root, &st); err != nil {
		return err
	}
	n := int64(st.Bavail)*st.Bsize - f.leave
	if n <= 0 {
		return fmt.Errorf("%d bytes free, want more than %d", int64(st.Bavail)*st.Bsize, f.leave)
	}
	file, err := os.Create(f.path())
	if err != nil {
		return err
	}
	defer file.Close()
	return syscall.Fallocate(int(file.Fd()), 0, 0, n)
}
