package activate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

// The ecosystem decision, made by Inspect on every host before anything
// changes anywhere:
//
//   - no ecosystem: write the one the flags describe (Prepare);
//   - next-deploy's, untouched since it was written (its marker line):
//     the settings whose flag was given win; when they differ from the
//     file, Prepare rewrites it and says so. A new --name while the old
//     app runs here is refused with the flag to use: renaming would start
//     a second app next to the first;
//   - hand-written, or ours edited since: never rewritten; a flag given
//     that differs from it refuses the activation, naming each
//     difference.
//
// A host that goes back after a failure gets its old ecosystem back
// (Restore); a failed first activation stops what it started and removes
// the ecosystem it wrote. The app's address in the settings that end up
// in the file is the health check's target when --health-url is not
// given, so activate and rollback check the port the app really has.

// ecoChange is what Prepare writes, and what Restore puts back.
type ecoChange struct {
	content []byte // to write
	create  bool   // the host had no ecosystem
	old     []byte // the ecosystem content replaced (ours, re-rendered)
	oldURL  string // the health target of old
	changes []pm2.Change
	renamed []string // app names content has and old does not
}

// site is s as it will be once e is written: a rename gives the app its
// new name, so another deploy path's app of the old name is no conflict.
func (e *ecoChange) site(s *pm2.Site) *pm2.Site {
	if e == nil || len(e.renamed) == 0 {
		return s
	}
	next := *s
	next.Apps = slices.Clone(s.Apps)
	for i := range next.Apps {
		next.Apps[i].Name = e.renamed[0]
	}
	return &next
}

func (r *Real) given(flag string) bool { return r.Given != nil && r.Given(flag) }

// appDirOf is where server.js is in release id, from its manifest.
func appDirOf(st *release.State, id string) string {
	if rel := st.Find(id); rel != nil && rel.Manifest != nil {
		return rel.Manifest.AppDir
	}
	return ""
}

// decide makes the ecosystem decision for a (see above) and sets the
// health target of the app.
func (r *Real) decide(ctx context.Context, h Host, a *App, to string) error {
	site := a.site
	want := h.ecosystem(r.Ecosystem, appDirOf(a.st, to)) // with the host's own listen address (next-deploy.yml)
	switch {
	case site.Apps == nil:
		eco, err := pm2.Ecosystem(want)
		if err != nil {
			return fmt.Errorf("no %s in %s, and the one to write is invalid: %w", r.PM2.Ecosystem, site.Root, err)
		}
		a.eco = &ecoChange{content: eco, create: true}
		a.healthURL = configURL(want)
		return nil
	case site.OursToRewrite():
		return r.update(ctx, h, a, *site.Generated, want)
	}
	return r.handWritten(a, want)
}

// update rewrites an ecosystem next-deploy wrote with the settings whose
// flag was given, unless that renames an app that runs here.
func (r *Real) update(ctx context.Context, h Host, a *App, have, want pm2.Config) error {
	next := pm2.Update(have, want, r.given)
	a.healthURL = configURL(next)
	changes := pm2.Diff(have, next, nil)
	if len(changes) == 0 {
		return nil
	}
	file := a.site.Root + "/" + r.PM2.Ecosystem
	if next.Name != have.Name {
		ps, err := r.PM2.Status(ctx, h)
		if err != nil {
			return err
		}
		if n := runsHere(a.site, ps, have.Name); n > 0 {
			return fmt.Errorf("%s (written by next-deploy) names the pm2 app %q, which runs here (%d workers): --name %s would start a second app next to it, on the same port; keep --name %s, or rename it once by hand (the app stops until the next activate): cd %s && pm2 delete %s, then activate with --name %s",
				file, have.Name, n, next.Name, have.Name, a.site.Root, have.Name, next.Name)
		}
	}
	content, err := pm2.Ecosystem(next)
	if err != nil {
		return fmt.Errorf("%s: the flags ask for %s, which is invalid: %w", file, pm2.DiffText(changes), err)
	}
	old, err := pm2.Ecosystem(have)
	if err != nil {
		return fmt.Errorf("%s: its own settings do not render any more (%w): delete it, and activate writes a fresh one", file, err)
	}
	a.eco = &ecoChange{content: content, old: old, oldURL: configURL(have), changes: changes}
	if next.Name != have.Name {
		a.eco.renamed = []string{next.Name}
	}
	return nil
}

// handWritten checks the flags given against an ecosystem activate does
// not rewrite, and refuses naming every difference.
func (r *Real) handWritten(a *App, want pm2.Config) error {
	app := a.site.Apps[0]
	for _, x := range a.site.Apps {
		if x.Name == want.Name {
			app = x
		}
	}
	a.healthURL = health.AppURL(app.Hostname, atoi(app.Port))
	compared := func(flag string) bool {
		return flag != "" && flag != "path" && flag != "pm2-env" && r.given(flag)
	}
	changes := pm2.Diff(app.Config(), want, compared)
	if len(changes) == 0 {
		return nil
	}
	what := "is not next-deploy's (no marker line)"
	if a.site.Generated != nil {
		what = "was written by next-deploy and edited since"
	}
	var diffs []string
	for _, c := range changes {
		have := c.Have
		if have == "" {
			have = "not set"
		}
		diffs = append(diffs, fmt.Sprintf("%s is %s in the file, --%s says %s", c.Setting.Label, have, c.Setting.Flag, c.Want))
	}
	return fmt.Errorf("%s/%s %s, so activate never rewrites it, and the flags differ from it: %s: edit the file to match (then pm2 reload picks it up), or drop those flags",
		a.site.Root, r.PM2.Ecosystem, what, strings.Join(diffs, "; "))
}

// runsHere counts the workers of app name that run from this deploy
// root (through current, or pinned to a release).
func runsHere(site *pm2.Site, ps []pm2.Proc, name string) int {
	n := 0
	for _, p := range ps {
		if p.Name == name && site.Place(p) != pm2.Foreign {
			n++
		}
	}
	return n
}

// configURL is the health target of an app made from c.
func configURL(c pm2.Config) string { return health.AppURL(c.Hostname, c.Port) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// write is Prepare's part: the ecosystem decided by Inspect, written
// atomically. It reports whether it wrote.
func (r *Real) write(ctx context.Context, h Host, a *App) (bool, error) {
	var create []byte
	if a.eco != nil && a.eco.create {
		create = a.eco.content
	}
	wrote, err := r.PM2.InstallOn(ctx, h, a.site, create)
	if err != nil || a.eco == nil {
		return wrote, err
	}
	file := r.PM2.Ecosystem
	if a.eco.create {
		if wrote {
			r.note(h, "wrote %s (none was there)", file)
		}
		return wrote, nil
	}
	if err := r.PM2.WriteEcosystem(ctx, h, a.eco.content); err != nil {
		return false, err
	}
	r.note(h, "rewrote %s, which next-deploy wrote, as the flags ask: %s%s", file, pm2.DiffText(a.eco.changes), moved(a.eco.changes))
	return true, nil
}

// moved is a hint when the app changes address: what sends it traffic
// must follow.
func moved(cs []pm2.Change) string {
	for _, c := range cs {
		if c.Setting.Flag == "port" || c.Setting.Flag == "hostname" {
			return "; the app moves there: nginx's upstream must follow (next-deploy config nginx --upstream HOST:PORT)"
		}
	}
	return ""
}

// Restore implements Ops: the ecosystem Prepare rewrote is put back
// before the host goes back to release to, so the old release runs with
// its own settings and the health check asks it where it listens; the
// app of a new name is deleted once the old one serves (Reload). A first
// activation (to "") that wrote the host's first ecosystem stops the apps
// it started and removes the file: nothing is left half made.
func (r *Real) Restore(ctx context.Context, h Host, a *App, to string) error {
	e := a.eco
	if e == nil || !a.wrote {
		return nil
	}
	if e.create {
		if to != "" {
			return nil // the previous release runs from it now
		}
		if err := r.deleteApps(ctx, h, a.site, a.site.Names()); err != nil {
			return fmt.Errorf("stop the app the failed activation started: %w", err)
		}
		if err := r.PM2.RemoveEcosystem(ctx, h); err != nil {
			return err
		}
		a.wrote = false
		r.note(h, "stopped the app it started and removed the %s it wrote", r.PM2.Ecosystem)
		return nil
	}
	if err := r.PM2.WriteEcosystem(ctx, h, e.old); err != nil {
		return fmt.Errorf("put back the ecosystem it rewrote: %w", err)
	}
	a.wrote, a.healthURL, a.stale = false, e.oldURL, e.renamed
	site, err := r.PM2.Inspect(ctx, h)
	if err != nil {
		return err
	}
	a.site = site
	r.note(h, "put back %s as it was", r.PM2.Ecosystem)
	return nil
}

// deleteApps deletes the apps of names that run from this deploy root,
// and looks again: pm2 delete misses a worker that pm2 is restarting (a
// crash-looping one waits with exp_backoff_restart_delay), which then
// comes back alone.
func (r *Real) deleteApps(ctx context.Context, h Host, site *pm2.Site, names []string) error {
	for range 10 {
		ps, err := r.PM2.Status(ctx, h)
		if err != nil {
			return err
		}
		left := slices.DeleteFunc(slices.Clone(names), func(name string) bool {
			return !slices.ContainsFunc(ps, func(p pm2.Proc) bool { return p.Name == name && site.Place(p) != pm2.Foreign })
		})
		if len(left) == 0 {
			return nil
		}
		for _, name := range left {
			if err := r.PM2.Delete(ctx, h, name); err != nil {
				return err
			}
		}
		if err := clock.Or(r.Clock).Sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("pm2 apps %s keep coming back after pm2 delete", strings.Join(names, ", "))
}

func (r *Real) note(h Host, format string, a ...any) {
	if r.Note != nil {
		r.Note(h.Name(), format, a...)
	}
}
