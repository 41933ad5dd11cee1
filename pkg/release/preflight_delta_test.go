package release

import (
	"context"
	"maps"
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
	d := r.Base.Plan(v2.files(), v2.holding("v2"))
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

func TestParseListing(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       map[string]baseLine
		err        bool
	}{
		{"front-coded paths, symlink", "4\n0\ta\n0\tb\n1\t/c\n3\td\nf644\nd755\nl777\nf600\nabcdef\n../a\n654321\n", map[string]baseLine{
			"a":    {line: "f\t644\tabcdef"},
			"b":    {line: "d\t755\t-"},
			"b/c":  {line: "l\t777\t../a"},
			"b/cd": {line: "f\t600\t654321"},
		}, false},
		{"empty", "0\n", map[string]baseLine{}, false},
		{"data missing", "1\n0\ta\nf644\n", nil, true},
		{"data left over", "1\n0\ta\nd755\nabcdef\n", nil, true},
		{"shares more than the path before", "2\n0\ta\n3\tb\nd755\nd755\n", nil, true},
		{"bad count", "x\n", nil, true},
	} {
		got, err := parseListing(tc.text)
		if (err != nil) != tc.err || !maps.Equal(got, tc.want) {
			t.Errorf("%s: parseListing = %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// answers is a fake host that answers every command with out.
type answers struct {
	remote.Local
	out string
}

func (a *answers) Run(context.Context, remote.Cmd) (*remote.Result, error) {
	return &remote.Result{Stdout: []byte(a.out)}, nil
}

// A base the host cannot list is no reason to fail the preflight: the
// host gets the whole artifact (deliver reads BaseErr as its fallback).
func TestPreflightDeltaWithAnUnreadableBase(t *testing.T) {
	l := Layout{Root: "/app"}
	for _, tc := range []struct {
		name, out string
		base      bool
		baseErr   bool
	}{
		{"no base", "CLEANED\t0\nFREE\t100\nNONE\n", false, false},
		{"listing cut short", "CLEANED\t0\nFREE\t100\nBASE\tv1\nnot gzip", false, true},
		{"bad base id", "CLEANED\t0\nFREE\t100\nBASE\t../x\n", false, true},
	} {
		r, err := l.PreflightDelta(context.Background(), &answers{out: tc.out}, "v2", "gz", time.Hour, nil)
		if err != nil || r.FreeBytes != 100*1024 || (r.Base != nil) != tc.base || (r.BaseErr != nil) != tc.baseErr {
			t.Errorf("%s: PreflightDelta = %+v, %v; want base %v, base error %v", tc.name, r, err, tc.base, tc.baseErr)
		}
	}
}
