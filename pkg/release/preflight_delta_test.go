package release

import (
	"context"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// runCounter is a host that counts its runs.
type runCounter struct {
	remote.Host
	runs int
}

func (c *runCounter) Run(ctx context.Context, cmd remote.Cmd) (*remote.Result, error) {
	c.runs++
	return c.Host.Run(ctx, cmd)
}

// One round trip before the upload: the preflight answers the base and
// its listing, and the listing says which files the host can make from
// the base's with the new id (no Derive round trip).
func TestPreflightDeltaPlansInOneRoundTrip(t *testing.T) {
	l, _, h := newLocal(t)
	ctx := context.Background()
	receiveFull(t, l, v1, "v1")
	if err := l.Switch(ctx, h, "v1"); err != nil {
		t.Fatal(err)
	}
	c := &runCounter{Host: h}
	r, err := l.PreflightDelta(ctx, c, "v2", "gz", time.Hour, nil)
	if err != nil || r.Base == nil || r.Base.ID != "v1" {
		t.Fatalf("PreflightDelta = %+v, %v; want base v1", r, err)
	}
	d := r.Base.Plan(v2.files())
	if got, want := string(d.Derive), "644\t.next/BUILD_ID\n700\tbin/start\n644\tserver.js\n"; got != want || d.Derived != 3 {
		t.Errorf("derive %q (%d), want %q", got, d.Derived, want)
	}
	if len(d.Send) != 2 || !d.Send[".next/server/app/index.html"] || !d.Send[".next/static/chunks/new-222.js"] {
		t.Errorf("send %v, want index.html and the new chunk", d.Send)
	}
	if c.runs != 1 {
		t.Errorf("%d runs on the host, want 1", c.runs)
	}
	if r, err := l.PreflightDelta(ctx, c, "v1", "gz", time.Hour, nil); err != nil || r.Existing == nil || r.Base != nil {
		t.Errorf("PreflightDelta of the release the host holds = %+v, %v; want it existing, no base", r, err)
	}
}
