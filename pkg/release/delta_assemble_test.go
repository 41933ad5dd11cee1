package release

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// A delta takes the derived files from the base by a hard link that sed
// -i replaces, and gives them their modes after: the base's files stay as
// they were, and the release's derived files are its own.
func TestDeltaLeavesItsBaseAlone(t *testing.T) {
	l, root, h := newLocal(t)
	receiveFull(t, l, v1, "v1")
	if err := l.Switch(context.Background(), h, "v1"); err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join(root, "releases")
	before := listTree(t, filepath.Join(rel, "v1"))
	if _, _, got, err := receiveDelta(t, l, v2, "v2"); err != nil || !got.Made {
		t.Fatalf("delta receive = %+v, %v", got, err)
	}
	if after := listTree(t, filepath.Join(rel, "v1")); after != before {
		t.Errorf("v1 changed by the delta:\n%s\n---\n%s", after, before)
	}
	for _, p := range []string{".next/BUILD_ID", "bin/start", "server.js"} {
		if sameFile(t, filepath.Join(rel, "v1", p), filepath.Join(rel, "v2", p)) {
			t.Errorf("derived %s is v1's file, want its own", p)
		}
	}
}

// A delta's host plans (the new manifest, what to link and copy from the
// base) while the payload is still coming (unpack_ready, then
// assemble_plan, then unpack_wait): here the payload stops after its
// first bytes until the plan's link list is in the incoming folder,
// which happens only if the plan does not wait for the whole upload.
func TestDeltaPlansWhileThePayloadComes(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	v3, b := bigDeltaOverV1(t, l, h)
	d := b.Plan(v3.files(), v3.holding("v3"))
	pay, sum := v3.artifact(t, func(p string) bool { return d.Send[p] })
	planned := filepath.Join(root, "releases", IncomingPfx+"v3-*", "ctl", "link")
	g := &gated{r: bytes.NewReader(pay), free: 16 << 10, open: func() bool {
		m, _ := filepath.Glob(planned)
		return len(m) > 0
	}}
	full, fullSum := v3.artifact(t, nil)
	got, err := l.Receive(ctx, remote.NewLocal(), Upload{
		Manifest: Manifest{ID: "v3", SHA256: fullSum, Bytes: int64(len(full))}, Format: "gz", Files: v3.files(),
		Payload: g, PayloadBytes: int64(len(pay)), PayloadSHA256: sum,
		Base: b.ID, Edit: d.Edit, Derive: d.Derive,
	})
	if err != nil || !got.Made {
		t.Fatalf("delta receive = %+v, %v", got, err)
	}
	if !g.opened {
		t.Error("the delta was planned only after the whole payload, want while it comes")
	}
}

// bigDeltaOverV1 delivers v1 to h and makes it current, and returns v3
// (v2 and a large file sent, so the payload is more than tar's first
// record) with the base h offers for it.
func bigDeltaOverV1(t *testing.T, l Layout, h remote.Host) (tree, *Base) {
	t.Helper()
	receiveFull(t, l, v1, "v1")
	if err := l.Switch(context.Background(), h, "v1"); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(rand.N(256))
	}
	v3 := v2.with(tree{"public/big.bin": {body: string(big), mode: 0o644}})
	b, err := deltaBase(t, l, h, "v3")
	if err != nil || b == nil {
		t.Fatalf("delta base = %v, %v", b, err)
	}
	return v3, b
}

// gated passes its first free bytes, then waits (10 s at most) until open
// says so; opened tells whether it did.
type gated struct {
	r      io.Reader
	free   int
	open   func() bool
	waited bool
	opened bool
}

func (g *gated) Read(p []byte) (int, error) {
	if g.free <= 0 && !g.waited {
		g.waited = true
		for end := time.Now().Add(10 * time.Second); !g.opened && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			g.opened = g.open()
		}
	}
	if g.free > 0 && len(p) > g.free {
		p = p[:g.free]
	}
	n, err := g.r.Read(p)
	g.free -= n
	return n, err
}

// A delta whose base fails it while the payload is still coming leaves
// nothing: the failure waits for the rest of the upload (unpack_abandon)
// before the incoming folder is removed, so nothing writes into it after.
func TestDeltaFailingWhileThePayloadComesLeavesNothing(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	v3, b := bigDeltaOverV1(t, l, h)
	// A file the base's manifest lists is gone: its hard link fails.
	if err := os.Remove(filepath.Join(root, "releases", "v1", "node_modules/next/package.json")); err != nil {
		t.Fatal(err)
	}
	d := b.Plan(v3.files(), v3.holding("v3"))
	pay, sum := v3.artifact(t, func(p string) bool { return d.Send[p] })
	start := time.Now()
	g := &gated{r: bytes.NewReader(pay), free: 16 << 10, open: func() bool { return time.Since(start) > 500*time.Millisecond }}
	_, err := l.Receive(ctx, h, Upload{
		Manifest: Manifest{ID: "v3", SHA256: sum}, Format: "gz", Files: v3.files(),
		Payload: g, PayloadBytes: int64(len(pay)), PayloadSHA256: sum,
		Base: b.ID, Edit: d.Edit, Derive: d.Derive,
	})
	if err == nil || !strings.Contains(err.Error(), "BASE") {
		t.Fatalf("delta from a base missing a file = %v, want a BASE error", err)
	}
	time.Sleep(100 * time.Millisecond) // anything left writing would show
	if got := entries(t, filepath.Join(root, "releases")); strings.Join(got, ",") != "v1" {
		t.Errorf("releases/ holds %v after a refused delta, want v1 only", got)
	}
}
