package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/status"
)

type releasesCmd struct {
	conn connFlags
}

func (*releasesCmd) Name() string { return "releases" }
func (*releasesCmd) Synopsis() string {
	return "list the releases on every host: size, delivery time, which is current and previous"
}

func (c *releasesCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	cli.JSONFlag(fs)
}

func (c *releasesCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	f, err := c.conn.open(env)
	if err != nil {
		return err
	}
	defer f.close()
	out, runErr := status.Releases(ctx, f.pool, f.targets, f.layout, f.parallel)
	t := &cli.Table{Title: "releases in " + f.layout.Root, Header: []string{"host", "release", "size", "delivered", "state"}}
	for _, hr := range out {
		if hr.Err != nil {
			t.Add(hr.Host, "-", "-", "-", "error: "+hr.Error)
			continue
		}
		if len(hr.Releases) == 0 {
			t.Add(hr.Host, "-", "-", "-", "no releases")
		}
		for _, rel := range hr.Releases {
			t.Add(hr.Host, rel.ID, humanBytes(rel.DiskBytes), rel.DeliveredAt.Format(time.RFC3339), status.ReleaseState(rel))
		}
	}
	if err := env.Report(out, t); err != nil {
		return err
	}
	return runErr
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
