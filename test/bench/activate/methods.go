package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/test/bed"
)

// fleet is the bed with a connection to each host.
type fleet struct {
	b      *bed.Bed
	hosts  []activate.Host
	layout release.Layout
}

// method is one way of deploying: its ecosystem file (written to each
// host, started on r1) and its rolling deploy to a release.
type method struct {
	name   string
	file   string
	eco    func(h *bed.Host) string
	deploy func(ctx context.Context, f *fleet, id string) error
}

const root = "~/app"

func bench(ctx context.Context, t *testing.T, runs int) error {
	b := bed.Start(t, bed.Options{Hosts: 2, PM2: true, Nginx: true, StaticLocation: func(h *bed.Host) string {
		loc, err := nginx.StaticLocation(nginx.Config{Root: h.DeployPath, Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}})
	f := &fleet{b: b, layout: release.Layout{Root: root}}
	for _, h := range b.Hosts {
		host, err := pm2test.Dial(ctx, h.Target(), b.KnownHostsFile, b.ClientKeyFile)
		if err != nil {
			return err
		}
		defer host.Close()
		f.hosts = append(f.hosts, activate.Host{Host: host, Target: inventory.Target{User: h.User, Host: h.Addr, Port: h.Port}})
		for _, id := range []string{"r1", "r2"} {
			if err := (pm2test.Release{ID: id}).Deliver(ctx, host, f.layout); err != nil {
				return err
			}
		}
	}
	methods := []method{
		{"ours: activate (cluster x2, drain, gate)", pm2.DefaultEcosystem, oursEco, ours},
		{"naive: pm2 restart, 1 instance", "naive.config.js", naiveEco, byHand("restart", "naive.config.js")},
		{"pm2 reload, cluster x2, no drain", "nodrain.config.js", noDrainEco, byHand("reload", "nodrain.config.js")},
	}
	var results []result
	var rollback, reload []time.Duration
	for _, m := range methods {
		fmt.Fprintf(os.Stderr, "== %s\n", m.name)
		if err := f.setup(ctx, m); err != nil {
			return fmt.Errorf("%s: set up: %w", m.name, err)
		}
		res := result{name: m.name}
		for r := range runs {
			id := []string{"r2", "r1"}[r%2]
			s, err := f.underLoad(func() error { return m.deploy(ctx, f, id) })
			if err != nil {
				return fmt.Errorf("%s: deploy %s: %w", m.name, id, err)
			}
			fmt.Fprintf(os.Stderr, "   deploy %s: %s in %.1fs\n", id, s.stats, s.elapsed.Seconds())
			res.samples = append(res.samples, s)
		}
		results = append(results, res)
		if m.file == pm2.DefaultEcosystem {
			var err error
			if rollback, reload, err = f.timeRollback(ctx, runs); err != nil {
				return err
			}
		}
	}
	report(results, rollback, reload)
	return nil
}

// setup stops every app, writes the method's ecosystem and starts it on
// r1 on every host.
func (f *fleet) setup(ctx context.Context, m method) error {
	for i, h := range f.b.Hosts {
		if _, e, err := f.b.TryRunAs(h, `pm2 delete all >/dev/null 2>&1 || true; cd ~/app && cat > "$1"`+"<<'EOF'\n"+m.eco(h)+"\nEOF\n", m.file); err != nil {
			return fmt.Errorf("%s: %w: %s", h.Name(), err, e)
		}
		if err := f.layout.Switch(ctx, f.hosts[i], "r1"); err != nil {
			return err
		}
		if _, err := (pm2.Runner{Root: root, Ecosystem: m.file, Env: "production"}).Install(ctx, f.hosts[i], nil); err != nil {
			return err
		}
		if _, e, err := f.b.TryRunAs(h, `cd ~/app && pm2 start "$1" --env production`, m.file); err != nil {
			return fmt.Errorf("%s: pm2 start: %w: %s", h.Name(), err, e)
		}
		if err := f.gate(ctx, f.hosts[i], "r1"); err != nil {
			return err
		}
	}
	return nil
}

// underLoad runs deploy with load through the balancer from a second
// before to a second after.
func (f *fleet) underLoad(deploy func() error) (sample, error) {
	load := pm2test.Load{BaseURL: "http://" + f.b.BalancerAddr, Workers: 6,
		Chunks: []string{pm2test.Release{ID: "r1"}.ChunkPath(), pm2test.Release{ID: "r2"}.ChunkPath()}}.Start(context.Background())
	time.Sleep(time.Second)
	start := time.Now()
	err := deploy()
	elapsed := time.Since(start)
	time.Sleep(time.Second)
	return sample{stats: load.Stop(), elapsed: elapsed}, err
}

// gate waits until the host serves release id (the health gate).
func (f *fleet) gate(ctx context.Context, h activate.Host, id string) error {
	_, err := health.Check(ctx, h.DialTCP, health.Gate{URL: "http://" + h.Addr() + ":3000/", Release: id, Timeout: 60 * time.Second, Wait: 100 * time.Millisecond})
	return err
}

// real is activate's Ops; its Ecosystem stays empty (invalid): the bench
// writes each host's ecosystem itself.
func (f *fleet) real() *activate.Real {
	return &activate.Real{
		Layout: f.layout, PM2: pm2.Runner{Root: root, Ecosystem: pm2.DefaultEcosystem, Env: "production"},
		FixPinned: true, HealthURL: "http://{host}:3000/", HealthTimeout: time.Minute, Who: "bench", PID: os.Getpid(),
	}
}

// ours is next-deploy's activation, as the CLI runs it.
func ours(ctx context.Context, f *fleet, id string) error {
	rep := activate.Run(ctx, f.real(), f.hosts, func(*release.State) (string, error) { return id, nil }, activate.Options{Who: "bench", Progress: progress})
	return rep.Err
}

// progress prints the steps of ours with -steps.
func progress(host, format string, a ...any) {
	if *steps {
		fmt.Fprintf(os.Stderr, "     %s %s: %s\n", time.Now().Format("15:04:05.000"), host, fmt.Sprintf(format, a...))
	}
}

// byHand switches current and runs pm2 <action> <file> host by host,
// waiting for each host to serve the release before the next.
func byHand(action, file string) func(ctx context.Context, f *fleet, id string) error {
	return func(ctx context.Context, f *fleet, id string) error {
		for i, h := range f.b.Hosts {
			if err := f.layout.Switch(ctx, f.hosts[i], id); err != nil {
				return err
			}
			if _, e, err := f.b.TryRunAs(h, `cd ~/app && pm2 "$1" "$2" --env production`, action, file); err != nil {
				return fmt.Errorf("%s: pm2 %s: %w: %s", h.Name(), action, err, e)
			}
			if err := f.gate(ctx, f.hosts[i], id); err != nil {
				return err
			}
		}
		return nil
	}
}

// timeRollback times rollbacks of the fleet (to the previous release)
// and single pm2 reload rounds of one host, with ours set up.
func (f *fleet) timeRollback(ctx context.Context, runs int) (rollback, reload []time.Duration, err error) {
	run := pm2.Runner{Root: root, Ecosystem: pm2.DefaultEcosystem, Env: "production"}
	for range runs {
		start := time.Now()
		rep := activate.Run(ctx, f.real(), f.hosts, func(st *release.State) (string, error) { return st.Previous, nil },
			activate.Options{Action: activate.ActionRollback, Who: "bench"})
		if rep.Err != nil {
			return nil, nil, fmt.Errorf("rollback: %w", rep.Err)
		}
		rollback = append(rollback, time.Since(start))
		start = time.Now()
		if err := run.ReloadOnce(ctx, f.hosts[0]); err != nil {
			return nil, nil, err
		}
		reload = append(reload, time.Since(start))
	}
	return rollback, reload, nil
}

// The ecosystems: ours from config pm2; the others as teams write them.
func oursEco(h *bed.Host) string {
	c := pm2.Defaults
	c.Root, c.Hostname = root, h.Addr
	b, err := pm2.Ecosystem(c)
	if err != nil {
		panic(err)
	}
	return strings.TrimRight(string(b), "\n")
}

func naiveEco(h *bed.Host) string {
	return handEco(h, "fork", 1)
}

func noDrainEco(h *bed.Host) string {
	return handEco(h, "cluster", 2)
}

func handEco(h *bed.Host, mode string, n int) string {
	return fmt.Sprintf(`const root = require('os').homedir() + '/app';
module.exports = { apps: [{
  name: 'web', cwd: root + '/current', script: root + '/current/server.js',
  exec_mode: '%s', instances: %d,
  env: { NODE_ENV: 'production', HOSTNAME: '%s', PORT: '3000' },
  env_production: {},
}] };`, mode, n, h.Addr)
}
