package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

type releasesCmd struct {
	conn   connFlags
	asJSON bool
}

func (*releasesCmd) Name() string { return "releases" }
func (*releasesCmd) Synopsis() string {
	return "list the releases on every host: size, delivery time, which is current and previous"
}

func (c *releasesCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
}

// hostReleases is one host's answer, as printed by --json.
type hostReleases struct {
	Host     string            `json:"host"`
	Path     string            `json:"path"`
	Current  string            `json:"current"`
	Previous string            `json:"previous"`
	Incoming int               `json:"incoming"`
	Releases []release.Release `json:"releases"`
	Error    string            `json:"error,omitempty"`
}

func (c *releasesCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	f, err := c.conn.open(env)
	if err != nil {
		return err
	}
	defer f.close()
	results := eachHost(ctx, f, func(ctx context.Context, h remote.Host) (*release.State, error) {
		return f.layout.State(ctx, h)
	})
	out := make([]hostReleases, 0, len(results))
	t := &cli.Table{Title: "releases in " + f.layout.Root, Header: []string{"host", "release", "size", "delivered", "state"}}
	var errs []error
	for _, r := range results {
		hr := hostReleases{Host: r.Target.String(), Path: f.layout.Root, Releases: []release.Release{}}
		if r.Err != nil {
			hr.Error = r.Err.Error()
			errs = append(errs, r.Err)
			t.Add(hr.Host, "-", "-", "-", "error: "+r.Err.Error())
			out = append(out, hr)
			continue
		}
		st := r.Value
		hr.Current, hr.Previous, hr.Incoming = st.Current, st.Previous, st.Incoming
		hr.Releases = append(hr.Releases, st.Releases...)
		if len(st.Releases) == 0 {
			t.Add(hr.Host, "-", "-", "-", "no releases")
		}
		for _, rel := range st.Releases {
			t.Add(hr.Host, rel.ID, humanBytes(rel.DiskBytes), rel.DeliveredAt.Format(time.RFC3339), releaseState(rel))
		}
		out = append(out, hr)
	}
	if err := env.Report(c.asJSON, out, t); err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d hosts could not be listed: %w", len(errs), len(results), errors.Join(errs...))
	}
	return nil
}

func releaseState(r release.Release) string {
	switch {
	case !r.Complete:
		return "incomplete"
	case r.Current:
		return "current"
	case r.Previous:
		return "previous"
	}
	return ""
}

// humanBytes prints a size the way a person reads it: 1.5 MB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
