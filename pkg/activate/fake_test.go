package activate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// fakeRemote is a remote.Host that only has a name: the fake ops below do
// the work.
type fakeRemote struct{ name string }

func (f fakeRemote) Name() string { return f.name }
func (f fakeRemote) Run(context.Context, remote.Cmd) (*remote.Result, error) {
	return nil, errors.New("fake host runs nothing")
}
func (f fakeRemote) DialTCP(context.Context, string) (net.Conn, error) {
	return nil, errors.New("fake host dials nothing")
}
func (f fakeRemote) Close() error { return nil }

// server is one fake host's state.
type server struct {
	current  string
	has      map[string]bool
	history  []release.Entry
	locked   bool
	lockErr  error
	unlocked bool
	// running is the release the workers run (after a reload).
	running string
	// bad are releases that fail the health check; crash ones fail reload.
	bad, crash map[string]bool
	// oldStatic is what OldStatic answers.
	oldStatic *nginx.Static
}

// fakeOps is a fleet of fake servers and a log of every step, in order.
// What its Inspect learns of a host is the host's name.
type fakeOps struct {
	mu      sync.Mutex
	servers map[string]*server
	log     []string
	// reads is every State and Lock, in order ("h0 lock", "h0 state"):
	// apart from log, which lists the steps that change a host.
	reads []string
	// block, when set, is called in Reload (to cancel mid-rollout).
	block func(host string)
	// onRead, when set, is called with each read before it is made
	// (outside the lock: it may wait for another host).
	onRead func(read string)
}

func newFleet(n int, current string, has ...string) (*fakeOps, []Host) {
	f := &fakeOps{servers: map[string]*server{}}
	var hosts []Host
	for i := range n {
		name := fmt.Sprintf("h%d", i)
		s := &server{current: current, running: current, has: map[string]bool{}, bad: map[string]bool{}, crash: map[string]bool{}}
		for _, id := range has {
			s.has[id] = true
		}
		if current != "" {
			s.history = []release.Entry{{Action: ActionActivate, Release: current}}
		}
		f.servers[name] = s
		hosts = append(hosts, Host{Host: fakeRemote{name}, Target: inventory.Target{User: "deploy", Host: "10.0.0." + fmt.Sprint(i), Port: 22}})
	}
	return f, hosts
}

func (f *fakeOps) read(r string) {
	if f.onRead != nil {
		f.onRead(r)
	}
}

func (f *fakeOps) s(h Host) *server { return f.servers[h.Name()] }

func (f *fakeOps) logf(format string, a ...any) {
	f.log = append(f.log, fmt.Sprintf(format, a...))
}

func (f *fakeOps) State(_ context.Context, h Host) (*release.State, error) {
	f.read(h.Name() + " state")
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s(h)
	f.reads = append(f.reads, h.Name()+" state")
	st := &release.State{Current: s.current, History: append([]release.Entry(nil), s.history...)}
	for id := range s.has {
		st.Releases = append(st.Releases, release.Release{ID: id, Complete: true})
	}
	// previous as release.State computes it.
	st.Previous = release.Previous(st.History, s.current, func(id string) bool { return s.has[id] })
	return st, nil
}

type fakeLock struct {
	f *fakeOps
	s *server
}

func (l fakeLock) Unlock(ctx context.Context) error {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	l.s.locked, l.s.unlocked = false, true
	return nil
}

func (f *fakeOps) Lock(_ context.Context, h Host) (Unlocker, error) {
	f.read(h.Name() + " lock")
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s(h)
	f.reads = append(f.reads, h.Name()+" lock")
	if s.lockErr != nil {
		return nil, s.lockErr
	}
	s.locked = true
	return fakeLock{f, s}, nil
}

var _ Ops[string] = (*fakeOps)(nil)

func (f *fakeOps) Inspect(_ context.Context, h Host, st *release.State, to string) (string, error) {
	return h.Name(), nil
}

func (f *fakeOps) Prepare(_ context.Context, h Host, app string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if app != h.Name() {
		return errors.New("Inspect's answer was not handed back")
	}
	f.logf("%s prepare", h.Name())
	return nil
}

func (f *fakeOps) Record(_ context.Context, h Host, e release.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s(h).history = append(f.s(h).history, e)
	return nil
}

func (f *fakeOps) Switch(_ context.Context, h Host, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.s(h).has[id] {
		return fmt.Errorf("no release %s", id)
	}
	f.s(h).current = id
	f.logf("%s switch %s", h.Name(), id)
	return nil
}

func (f *fakeOps) Reload(ctx context.Context, h Host, app string, to, from string) error {
	if f.block != nil {
		f.block(h.Name())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s(h)
	f.logf("%s reload %s", h.Name(), to)
	if s.crash[to] {
		return fmt.Errorf("release %s crash-loops", to)
	}
	s.running = s.current
	return nil
}

func (f *fakeOps) Check(_ context.Context, h Host, app string, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s(h)
	f.logf("%s check %s", h.Name(), id)
	if app != h.Name() {
		return errors.New("Inspect's answer was not handed back")
	}
	if s.running != id || s.bad[id] {
		return fmt.Errorf("release %s does not serve", id)
	}
	return nil
}

func (f *fakeOps) Restore(_ context.Context, h Host, app string, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logf("%s restore for %q", h.Name(), to)
	return nil
}

func (f *fakeOps) OldStatic(_ context.Context, h Host, app string, old string) *nginx.Static {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logf("%s old static %s", h.Name(), old)
	return f.s(h).oldStatic
}
