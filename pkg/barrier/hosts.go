package barrier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// HostsOptions say which hosts must hold which release.
type HostsOptions struct {
	Targets []inventory.Target
	// Parallel is how many hosts are asked at once (<= 0: all).
	Parallel int
	// PerHost bounds one host's look, connecting included, so a hung host
	// is unreachable for a round instead of holding up the others
	// (default DefaultPerHost).
	PerHost time.Duration
	// Layout is the deploy root on every host; Pool connects to them.
	Layout release.Layout
	Pool   *remote.Pool
	// Release is the release id every host must hold, complete.
	Release string
	// SHA256, when set, is the checksum (lowercase hex) of the artifact
	// the release must come from.
	SHA256 string

	// state reads one host's releases; nil: Layout.State over Pool.
	state func(context.Context, inventory.Target) (*release.State, error)
}

// DefaultPerHost bounds one host's look when HostsOptions.PerHost is 0.
const DefaultPerHost = 45 * time.Second

// Hosts plans waiting until every host holds the complete release.
func Hosts(o HostsOptions) Plan {
	if o.PerHost <= 0 {
		o.PerHost = DefaultPerHost
	}
	if o.state == nil {
		o.state = func(ctx context.Context, t inventory.Target) (*release.State, error) {
			h, err := o.Pool.Get(ctx, t)
			if err != nil {
				return nil, err
			}
			return o.Layout.State(ctx, h)
		}
	}
	return Plan{
		Poll:        hostsPoll(o),
		Noun:        "hosts",
		Title:       fmt.Sprintf("release %s in %s", o.Release, o.Layout.Root),
		Subject:     fmt.Sprintf("release %s is not on every host", o.Release),
		TimeoutHint: "check that deliver ran and succeeded for these hosts, then run barrier-wait again (or raise --timeout)",
		FailHint:    "a host that holds another artifact under this id needs a new release id (never reuse one for another build); fix the hosts named and run barrier-wait again",
	}
}

// hostsPoll reads the state of every host not yet known to be ready (a
// complete release is immutable, so a ready host is not asked again), at
// most o.Parallel at a time, each bounded by o.PerHost, and judges it.
func hostsPoll(o HostsOptions) Poll {
	// ready[i] is host i's member once it is ready. Only the poll writes
	// it, after the fan-out; host i's goroutine reads its own entry.
	ready := make([]*Member, len(o.Targets))
	return func(ctx context.Context) (Status, error) {
		results := fleet.Each(ctx, o.Targets, o.Parallel, func(ctx context.Context, i int, t inventory.Target) (Member, error) {
			if ready[i] != nil {
				return *ready[i], nil
			}
			ctx, cancel := context.WithTimeout(ctx, o.PerHost)
			defer cancel()
			st, err := o.state(ctx, t)
			return judgeHost(t.String(), st, err, o.Release, o.SHA256), nil
		})
		if err := ctx.Err(); err != nil {
			return Status{}, err
		}
		st := Status{Members: make([]Member, len(results))}
		for i, r := range results {
			st.Members[i] = r.Value
			if r.Value.State == Ready && ready[i] == nil {
				m := r.Value
				ready[i] = &m
			}
		}
		return st, nil
	}
}

// judgeHost says where one host stands with release id: st is what it
// holds, err why it could not be read.
func judgeHost(name string, st *release.State, err error, id, sum string) Member {
	m := Member{Name: name, State: Waiting}
	var hk *remote.HostKeyError
	switch {
	case errors.As(err, &hk):
		// Waiting cannot fix a host key known_hosts does not vouch for.
		m.State, m.Detail = Failed, err.Error()
	case err != nil:
		m.Detail = "unreachable, retrying: " + err.Error()
	case st.Has(id):
		got := ""
		if r := st.Find(id); r.Manifest != nil {
			got = strings.ToLower(r.Manifest.SHA256)
		}
		switch {
		case sum == "":
			m.State, m.Detail = Ready, "complete"
		case got == sum:
			m.State, m.Detail = Ready, "complete, sha256 matches"
		default:
			m.State = Failed
			m.Detail = fmt.Sprintf("holds release %s from another artifact: sha256 %s, want %s", id, orNone(got), sum)
		}
	case st.Find(id) != nil:
		m.Detail = fmt.Sprintf("release %s incomplete (no manifest yet)", id)
	case st.Incoming > 0:
		m.Detail = fmt.Sprintf("no release %s yet (an upload is in progress, or was abandoned)", id)
	default:
		m.Detail = fmt.Sprintf("no release %s yet", id)
	}
	return m
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
