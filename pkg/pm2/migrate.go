package pm2

import (
	"context"
	"fmt"

	"github.com/org/next-deploy/pkg/remote"
)

const startOnlyScript = `
pm2env start "$1" --only "$2"
`

// Pinned returns the names of the ecosystem's apps that have a worker
// pinned to a release, and refuses (error) workers running from outside
// the deploy root or in fork mode.
func (s *Site) Pinned(ps []Proc) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, p := range s.Ours(ps) {
		switch s.Place(p) {
		case Foreign:
			return nil, fmt.Errorf("app %q (worker %s) runs %s from %s, outside %s: it is another deploy path's app of the same name; give this one another name (activate --name NAME; in a hand-written ecosystem, its name:), or delete that one (pm2 delete %s)", p.Name, p.Key(), p.Script, p.Cwd, s.Root, p.Name)
		case Pinned:
			if p.Mode != "cluster_mode" {
				return nil, fmt.Errorf("app %q is pinned to %s and runs in %s: it cannot be replaced without downtime; restart it once from the ecosystem: cd %s && pm2 delete %s && pm2 start <ecosystem file>", p.Name, p.Cwd, p.Mode, s.Root, p.Name)
			}
			if !seen[p.Name] {
				seen[p.Name] = true
				names = append(names, p.Name)
			}
		}
	}
	return names, nil
}

// MigratingSuffix names the stand-in app of a migration.
const MigratingSuffix = "-next-deploy-migrating"

// Migrate replaces a pinned app without downtime: pm2 cluster workers of
// every app share the listening socket in the pm2 daemon, so a stand-in
// started from the ecosystem (paths through current) under another name
// serves next to the pinned workers; then the pinned app is deleted (its
// workers drain), the app is started again under its own name from the
// ecosystem, and the stand-in is deleted.
func (r Runner) Migrate(ctx context.Context, h remote.Host, s *Site, name string) error {
	stand := name + MigratingSuffix
	fail := func(step string, err error) error {
		return fmt.Errorf("replace pinned app %q on %s: %s: %w", name, h.Name(), step, err)
	}
	ps, err := r.Status(ctx, h)
	if err != nil {
		return fail("list", err)
	}
	if hasApp(ps, stand) {
		// Left by an interrupted migration: the pinned app still serves.
		if err := r.Delete(ctx, h, stand); err != nil {
			return fail("delete the stand-in left by an earlier run", err)
		}
	}
	if _, err := r.run(ctx, h, "start stand-in "+stand, migrateScript, r.Ecosystem, name, stand, MigratePath); err != nil {
		return fail("start the stand-in", err)
	}
	if err := r.waitOnline(ctx, h, stand); err != nil {
		return fail("start the stand-in", err)
	}
	if err := r.Delete(ctx, h, name); err != nil {
		return fail("delete the pinned app", err)
	}
	if _, err := r.run(ctx, h, "start "+name, startOnlyScript, r.Ecosystem, name); err != nil {
		return fail("start it from the ecosystem (the stand-in still serves)", err)
	}
	if err := r.waitOnline(ctx, h, name); err != nil {
		return fail("start it from the ecosystem (the stand-in still serves)", err)
	}
	if err := r.Delete(ctx, h, stand); err != nil {
		return fail("delete the stand-in", err)
	}
	return nil
}

func hasApp(ps []Proc, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// waitOnline checks that every worker of app name is online. pm2 start
// returns once the workers sent 'ready' (wait_ready) or listen_timeout
// passed, so one look is enough.
func (r Runner) waitOnline(ctx context.Context, h remote.Host, name string) error {
	ps, err := r.Status(ctx, h)
	if err != nil {
		return err
	}
	n := 0
	for _, p := range ps {
		if p.Name != name {
			continue
		}
		if p.Status != "online" {
			return fmt.Errorf("worker %s of %q is %s after pm2 start", p.Key(), name, p.Status)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("pm2 start left no worker of %q", name)
	}
	return nil
}
