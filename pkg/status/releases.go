package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/org/next-deploy/pkg/fleet"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
)

// HostReleases is the releases one host holds, as printed by --json.
type HostReleases struct {
	Host     string            `json:"host"`
	Path     string            `json:"path"`
	Current  string            `json:"current"`
	Previous string            `json:"previous"`
	Incoming int               `json:"incoming"`
	Releases []release.Release `json:"releases"`
	Err      error             `json:"-"`
	Error    string            `json:"error,omitempty"`
}

// Releases lists what every target holds under layout, parallel at a time,
// in the order of targets. The error says how many hosts could not be
// listed and why; the others are answered all the same.
func Releases(ctx context.Context, conn Connector, targets []inventory.Target, layout release.Layout, parallel int) ([]HostReleases, error) {
	rs := fleet.Each(ctx, targets, parallel, func(ctx context.Context, _ int, t inventory.Target) (*release.State, error) {
		h, err := conn.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		return layout.State(ctx, h)
	})
	out := make([]HostReleases, len(rs))
	var failed []error
	for i, r := range rs {
		hr := HostReleases{Host: r.Target.String(), Path: layout.Root, Releases: []release.Release{}}
		if r.Err != nil {
			hr.Err, hr.Error = r.Err, r.Err.Error()
			failed = append(failed, r.Err)
		} else {
			st := r.Value
			hr.Current, hr.Previous, hr.Incoming = st.Current, st.Previous, st.Incoming
			hr.Releases = append(hr.Releases, st.Releases...)
		}
		out[i] = hr
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d hosts could not be listed: %w", len(failed), len(rs), errors.Join(failed...))
	}
	return out, nil
}

// ReleaseState says in a word what r is to its host: "incomplete" (not
// made by next-deploy's delivery, or cut short), "current", "previous", or
// "" for a kept one.
func ReleaseState(r release.Release) string {
	switch {
	case !r.Complete:
		return "incomplete"
	case r.Current:
		return "current"
	case r.Previous:
		return "previous"
	case r.RolledBack:
		return "rolled back"
	}
	return ""
}
