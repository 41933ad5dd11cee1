package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/org/next-deploy/pkg/inventory"
)

// Pool keeps one connection per target, so every step of a run reuses it.
// It is safe for concurrent use; concurrent Gets of one target share one
// dial.
type Pool struct {
	dialer *Dialer
	mu     sync.Mutex
	conns  map[string]*poolEntry
	closed bool
}

type poolEntry struct {
	ready chan struct{} // closed when host and err are set
	host  Host
	err   error
}

// ErrPoolClosed is returned by Get after Close.
var ErrPoolClosed = errors.New("connection pool closed")

// NewPool returns a pool dialing with d. With a nil d only "local" targets
// can be had: for a fleet with no SSH host.
func NewPool(d *Dialer) *Pool {
	return &Pool{dialer: d, conns: map[string]*poolEntry{}}
}

// Get returns the connected host for t: the same connection for the same
// target, dialed again when it has died. The pool owns the connection:
// Close on the returned Host does nothing; Pool.Close ends them all.
func (p *Pool) Get(ctx context.Context, t inventory.Target) (Host, error) {
	if t.Local {
		return NewLocal(), nil
	}
	if p.dialer == nil {
		return nil, fmt.Errorf("connect to %s: no ssh configuration", t)
	}
	t = t.WithUser(p.dialer.user)
	key := strings.ToLower(t.String())
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("connect to %s: %w", t, ErrPoolClosed)
		}
		e := p.conns[key]
		if e == nil {
			e = &poolEntry{ready: make(chan struct{})}
			p.conns[key] = e
			p.mu.Unlock()
			return p.dial(ctx, key, t, e)
		}
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if e.err == nil && alive(e.host) {
			return pooledHost{e.host}, nil
		}
		// The dialer's own context ended its dial: that is no answer for
		// this caller, who dials again.
		if e.err != nil && !errors.Is(e.err, context.Canceled) && !errors.Is(e.err, context.DeadlineExceeded) {
			return nil, e.err
		}
		p.drop(key, e)
	}
}

// dial fills e, the entry for key.
func (p *Pool) dial(ctx context.Context, key string, t inventory.Target, e *poolEntry) (Host, error) {
	e.host, e.err = p.dialer.Dial(ctx, t)
	p.mu.Lock()
	closed := p.closed
	if e.err != nil && p.conns[key] == e {
		delete(p.conns, key)
	}
	p.mu.Unlock()
	close(e.ready)
	if e.err != nil {
		return nil, e.err
	}
	if closed {
		e.host.Close()
		return nil, fmt.Errorf("connect to %s: %w", t, ErrPoolClosed)
	}
	return pooledHost{e.host}, nil
}

// drop forgets e, a dead connection or failed dial, if it is still the
// entry for key.
func (p *Pool) drop(key string, e *poolEntry) {
	p.mu.Lock()
	if p.conns[key] == e {
		delete(p.conns, key)
	}
	p.mu.Unlock()
	if e.host != nil {
		e.host.Close()
	}
}

func alive(h Host) bool {
	if s, ok := h.(*sshHost); ok {
		return s.alive()
	}
	return true
}

// Close ends every connection of the pool; Gets after it fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	entries := p.conns
	p.conns = map[string]*poolEntry{}
	p.mu.Unlock()
	var errs []error
	for _, e := range entries {
		<-e.ready // a dial in flight is bounded by its connect timeout
		if e.err == nil {
			if err := e.host.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", e.host.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// pooledHost is a Host whose connection belongs to a Pool.
type pooledHost struct{ Host }

// Close does nothing: the pool closes the connection.
func (pooledHost) Close() error { return nil }
