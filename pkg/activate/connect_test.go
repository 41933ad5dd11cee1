package activate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// fakeConn reaches every target but those in down.
type fakeConn struct{ down map[string]bool }

func (c fakeConn) Get(_ context.Context, t inventory.Target) (remote.Host, error) {
	if c.down[t.Host] {
		return nil, errors.New("ssh: connect to " + t.String() + ": connection refused")
	}
	return fakeRemote{t.String()}, nil
}

func TestConnect(t *testing.T) {
	targets, err := inventory.Parse("deploy@10.0.0.1, deploy@10.0.0.2:2222, local")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		down  []string
		hosts string // name=addr, in --hosts order
		err   []string
	}{
		{"all up", nil, "deploy@10.0.0.1:22=10.0.0.1 deploy@10.0.0.2:2222=10.0.0.2 local=127.0.0.1", nil},
		{"two down, both named", []string{"10.0.0.1", "10.0.0.2"}, "", []string{"cannot reach 2 of 3 hosts, nothing was changed", "10.0.0.1", "10.0.0.2:2222"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			down := map[string]bool{}
			for _, d := range tc.down {
				down[d] = true
			}
			hosts, err := Connect(context.Background(), fakeConn{down}, targets, 2)
			var got []string
			for _, h := range hosts {
				got = append(got, h.Name()+"="+h.Addr())
			}
			if g := strings.Join(got, " "); g != tc.hosts {
				t.Errorf("hosts = %q, want %q", g, tc.hosts)
			}
			if (err != nil) != (tc.err != nil) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
			}
			for _, m := range tc.err {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestEcosystemFor(t *testing.T) {
	cfg := pm2.Defaults
	cfg.Root, cfg.Hostname, cfg.Envs = "/app", "{host}", []string{"staging"}
	got := EcosystemFor(cfg, "10.0.0.7", "apps/web")
	if got.Hostname != "10.0.0.7" || got.AppDir != "apps/web" || got.Root != "/app" || got.Envs[0] != "staging" {
		t.Errorf("EcosystemFor = %+v, want hostname 10.0.0.7 in apps/web, the rest as given", got)
	}
	if cfg.Hostname != "{host}" {
		t.Error("EcosystemFor changed its argument")
	}
}

// counting wraps fakeOps and records how many State calls run at once.
type counting struct {
	*fakeOps
	mu       sync.Mutex
	now, max int
}

func (c *counting) State(ctx context.Context, h Host) (*release.State, error) {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // let the others in, were they not bounded
	defer func() {
		c.mu.Lock()
		c.now--
		c.mu.Unlock()
	}()
	return c.fakeOps.State(ctx, h)
}

// Regression guard: preflight fanned out with a goroutine per host of its
// own; it goes through fleet.Each, bounded by Options.Parallel.
func TestPreflightIsBoundedByParallel(t *testing.T) {
	f, hosts := newFleet(4, "v1", "v1", "v2")
	c := &counting{fakeOps: f}
	rep := Run(context.Background(), c, hosts, activateTo("v2"), Options{Parallel: 1})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if c.max != 1 {
		t.Errorf("%d preflights at once, want 1 (--parallel 1)", c.max)
	}
}
