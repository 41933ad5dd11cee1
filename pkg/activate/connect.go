package activate

import (
	"context"
	"errors"
	"fmt"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
)

// Host is a connected host and the --hosts entry it was reached from.
type Host struct {
	remote.Host
	Target inventory.Target
}

// Addr is the host's address as given in --hosts: what {host} stands for
// in the health URL and the ecosystem's hostname (127.0.0.1 for local).
func (h Host) Addr() string {
	if h.Target.Local {
		return "127.0.0.1"
	}
	return h.Target.Host
}

// Connector gives a connected host for a target (remote.Pool).
type Connector = fleet.Connector

// Connect connects to every target, parallel at a time, and returns the
// hosts in the order of targets, or names every host it could not reach:
// a rollout starts only with the whole fleet.
func Connect(ctx context.Context, conn Connector, targets []inventory.Target, parallel int) ([]Host, error) {
	results := fleet.Each(ctx, targets, parallel, func(ctx context.Context, _ int, t inventory.Target) (remote.Host, error) {
		return conn.Get(ctx, t)
	})
	hosts := make([]Host, 0, len(results))
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
			continue
		}
		hosts = append(hosts, Host{Host: r.Value, Target: r.Target})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cannot reach %d of %d hosts, nothing was changed: %w", len(errs), len(results), errors.Join(errs...))
	}
	return hosts, nil
}
