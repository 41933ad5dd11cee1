package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/release"
)

type deliverCmd struct {
	conn     connFlags
	artifact string
	release  string
	retries  int
	stale    time.Duration
	delta    string
	shared   string
}

func (*deliverCmd) Name() string { return "deliver" }
func (*deliverCmd) Synopsis() string {
	return "upload a packed release to every host, verified and atomic, next to the running one"
}

func (c *deliverCmd) SetFlags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.artifact, "artifact", "", "the packed release: <release>.tar.zst|gz|xz from pack (required)")
	fs.StringVar(&c.release, "release", "", "release id (default: the artifact's name without .tar.<ext>)")
	fs.IntVar(&c.retries, "retries", 3, "times one host's upload starts again after a transient failure")
	fs.DurationVar(&c.stale, "stale-after", release.DefaultStaleAfter, staleAfterUsage)
	fs.StringVar(&c.delta, "delta", "auto", "auto: send each host only the files that changed since a release it holds (verified; falls back to the whole artifact), off: always the whole artifact")
	fs.StringVar(&c.shared, "shared", "", "files and folders (a trailing /) every release links from <path>/shared/ on each host, relative to the app's root, comma-separated: .env.production,public/uploads/ (default: shared of "+config.FileName+")")
	cli.JSONFlag(fs)
}

// staleAfterUsage is --stale-after of deliver and prune.
const staleAfterUsage = "how long an upload (releases/.incoming-*) must have been abandoned before it is removed; one whose deliver still runs is never removed"

// checkStaleAfter refuses a --stale-after shorter than a minute: an
// upload's heartbeat beats every 15 seconds.
func checkStaleAfter(d time.Duration) error {
	if d < time.Minute {
		return fmt.Errorf("--stale-after %s: want 1m or more", d)
	}
	return nil
}

// deliverReport is what --json prints.
type deliverReport struct {
	Release  string           `json:"release"`
	Artifact string           `json:"artifact"`
	SHA256   string           `json:"sha256"`
	Bytes    int64            `json:"bytes"`
	Hosts    []deliver.Result `json:"hosts"`
}

func (c *deliverCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	if c.artifact == "" {
		errs = append(errs, errors.New("--artifact is required"))
	}
	if c.delta != "auto" && c.delta != "off" {
		errs = append(errs, fmt.Errorf("--delta %q: want auto or off", c.delta))
	}
	if err := checkStaleAfter(c.stale); err != nil {
		errs = append(errs, err)
	}
	if c.retries < 0 {
		errs = append(errs, fmt.Errorf("--retries %d: want 0 or more", c.retries))
	}
	shared, err := sharedEntries(env, c.shared)
	if err != nil {
		errs = append(errs, err)
	}
	f, err := c.conn.open(env)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return cli.Usage(errors.Join(errs...))
	}
	defer f.close()
	a, id, err := deliver.Inspect(ctx, c.artifact, c.release)
	if err != nil {
		return cli.Usage(err)
	}
	env.Progressf("delivering %s (%s, sha256 %s) as release %s to %d hosts", a.Path, humanBytes(a.Bytes), a.SHA256[:12], id, len(f.targets))
	warnSharedInside(env, a, shared, f.layout)
	results, runErr := deliver.Run(ctx, f.pool, f.targets, f.layout, a, deliver.Options{
		Release:    id,
		Parallel:   f.parallel,
		Retries:    c.retries,
		StaleAfter: c.stale,
		RunURL:     runURL(env),
		Delta:      c.delta == "auto",
		Shared:     shared,
		Progress: func(host string, sent, total int64, elapsed time.Duration) {
			env.Progressf("%s: %s of %s, %s/s", host, humanBytes(sent), humanBytes(total), humanBytes(rate(sent, elapsed)))
		},
	})
	t := &cli.Table{Title: "deliver " + id, Header: []string{"host", "result", "mode", "sent", "files sent", "linked", "copied", "seconds", "attempts", "note"}}
	var hosts []string
	for _, r := range results {
		hosts = append(hosts, r.Host)
		mode := r.Mode
		if r.Base != "" {
			mode = "delta from " + r.Base
		}
		note := deliverNote(r)
		t.Add(r.Host, r.State, orDash(mode), humanBytes(r.Bytes), strconv.Itoa(r.SentFiles), strconv.Itoa(r.Linked), strconv.Itoa(r.Copied),
			fmt.Sprintf("%.1f", r.Seconds), strconv.Itoa(r.Attempts), note)
	}
	if err := env.Report(deliverReport{Release: id, Artifact: a.Path, SHA256: a.SHA256, Bytes: a.Bytes, Hosts: results}, t); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	env.SetOutput("release", id)
	env.SetOutput("sha256", a.SHA256)
	env.SetOutput("artifact", a.Path)
	env.SetOutput("hosts", strings.Join(hosts, ","))
	return nil
}

// rate is bytes per second.
func rate(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}
