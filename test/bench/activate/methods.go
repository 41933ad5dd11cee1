package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/nginx"
	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
	"github.com/org/next-deploy/test/bench/benchkit"
)

// rig is the bed with a connection to each host, and the batch size.
type rig struct {
	b      *bed.Bed
	hosts  []activate.Host
	layout release.Layout
	batch  int
	// runs counts the commands run on the hosts (timedHost).
	runs atomic.Int64
}

// method is one way of deploying: its ecosystem file (written to each
// host, started on r1) and its rolling deploy to a release.
type method struct {
	key    string // for -methods
	name   string
	file   string
	eco    func(h *bed.Host) string
	deploy func(ctx context.Context, f *rig, id string) error
}

const root = "~/app"

func bench(ctx context.Context, t *testing.T, c config) error {
	runs := c.runs
	b := bed.Start(t, bed.Options{Hosts: c.hosts, PM2: true, Nginx: true, StaticLocation: func(h *bed.Host) string {
		loc, err := nginx.StaticLocation(nginx.Config{Root: h.DeployPath, Listen: h.NginxAddr, ServerName: "_", Upstream: h.AppAddr, Keepalive: 32})
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}})
	f := &rig{b: b, layout: release.Layout{Root: root}, batch: c.batch.Of(c.hosts)}
	hosts, err := benchkit.PerHost(b, func(h *bed.Host) (activate.Host, error) {
		host, err := pm2test.Dial(ctx, h.Target(), b.KnownHostsFile, b.ClientKeyFile)
		if err != nil {
			return activate.Host{}, err
		}
		for _, id := range []string{"r1", "r2"} {
			if err := (pm2test.Release{ID: id}).Deliver(ctx, host, f.layout); err != nil {
				host.Close()
				return activate.Host{}, err
			}
		}
		return activate.Host{Host: timedHost{Host: host, runs: &f.runs}, Target: inventory.Target{User: h.User, Host: h.Addr, Port: h.Port}}, nil
	})
	for _, h := range hosts {
		if h.Host != nil {
			defer h.Close()
		}
	}
	if err != nil {
		return err
	}
	f.hosts = hosts
	// ours first and bare second: the report's ratios are to them.
	bareTitle, _, _ := bareFloor()
	all := []method{
		{"ours", "ours: activate (cluster x2, drain, gate)", pm2.DefaultEcosystem, oursEco, ours},
		{"bare", bareTitle, pm2.DefaultEcosystem, oursEco, byHand("reload", pm2.DefaultEcosystem, false)},
		{"naive", "naive: pm2 restart, 1 instance", "naive.config.js", naiveEco, byHand("restart", "naive.config.js", true)},
		{"nodrain", "pm2 reload, cluster x2, no drain", "nodrain.config.js", noDrainEco, byHand("reload", "nodrain.config.js", true)},
	}
	var methods []method
	for _, m := range all {
		if slices.Contains(c.methods, m.key) {
			methods = append(methods, m)
		}
	}
	rep := &outcome{}
	// ours and bare run from the same ecosystem: with both asked for,
	// each deploy of ours is followed by one of bare, so that the two
	// share whatever else the machine does at the time.
	var bare *method
	if slices.Contains(c.methods, "ours") && slices.Contains(c.methods, "bare") {
		bare = &all[1]
	}
	for _, m := range methods {
		if m.key == "bare" && bare != nil {
			continue // ran with ours
		}
		fmt.Fprintf(os.Stderr, "== %s\n", m.name)
		if err := f.setup(ctx, m); err != nil {
			return fmt.Errorf("%s: set up: %w", m.name, err)
		}
		res, bareRes := result{name: m.name}, result{}
		var commands int64
		for r := range runs {
			id := []string{"r2", "r1"}[r%2]
			if m.key == "ours" && bare != nil {
				id = "r2" // bare goes back to r1
			}
			before := f.runs.Load()
			s, err := f.underLoad(func() error { return m.deploy(ctx, f, id) })
			if err != nil {
				return fmt.Errorf("%s: deploy %s: %w", m.name, id, err)
			}
			commands += f.runs.Load() - before
			fmt.Fprintf(os.Stderr, "   deploy %s: %s in %.1fs\n", id, s.stats, s.elapsed.Seconds())
			res.samples = append(res.samples, s)
			if m.key == "ours" && bare != nil {
				s, err := f.underLoad(func() error { return bare.deploy(ctx, f, "r1") })
				if err != nil {
					return fmt.Errorf("%s: deploy r1: %w", bare.name, err)
				}
				fmt.Fprintf(os.Stderr, "   bare, deploy r1: %s in %.1fs\n", s.stats, s.elapsed.Seconds())
				bareRes.name = bare.name
				bareRes.samples = append(bareRes.samples, s)
			}
		}
		rep.results = append(rep.results, res)
		if bareRes.name != "" {
			rep.results = append(rep.results, bareRes)
		}
		if m.key == "ours" {
			rep.commands = float64(commands) / float64(runs*len(f.hosts))
			var err error
			if rep.rollback, rep.reload, err = f.timeRollback(ctx, min(runs, c.rollbacks)); err != nil {
				return err
			}
		}
	}
	report(c, rep)
	return nil
}

// setup stops every app, writes the method's ecosystem and starts it on
// r1 on every host, the hosts at once.
func (f *rig) setup(ctx context.Context, m method) error {
	_, err := benchkit.PerHost(f.b, func(h *bed.Host) (struct{}, error) {
		host := f.hosts[h.Index]
		if _, e, err := f.b.TryRunAs(h, `pm2 delete all >/dev/null 2>&1 || true; cd ~/app && cat > "$1"`+"<<'EOF'\n"+m.eco(h)+"\nEOF\n", m.file); err != nil {
			return struct{}{}, fmt.Errorf("%w: %s", err, e)
		}
		if err := f.layout.Switch(ctx, host, "r1"); err != nil {
			return struct{}{}, err
		}
		if _, err := (pm2.Runner{Root: root, Ecosystem: m.file, Env: "production"}).Install(ctx, host, nil); err != nil {
			return struct{}{}, err
		}
		if _, e, err := f.b.TryRunAs(h, `cd ~/app && pm2 start "$1" --env production`, m.file); err != nil {
			return struct{}{}, fmt.Errorf("pm2 start: %w: %s", err, e)
		}
		return struct{}{}, f.gate(ctx, host, "r1")
	})
	return err
}

// underLoad runs deploy with load through the balancer from a second
// before to a second after.
func (f *rig) underLoad(deploy func() error) (sample, error) {
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
func (f *rig) gate(ctx context.Context, h activate.Host, id string) error {
	_, err := health.Check(ctx, h.DialTCP, health.Gate{URL: "http://" + h.Addr() + ":3000/", Release: id, Timeout: 60 * time.Second, Wait: 100 * time.Millisecond})
	return err
}

// real is activate's Ops, with the config of the ecosystem the bench
// writes to each host (oursEco): activate finds it as it wrote it.
func (f *rig) real() *activate.Real {
	eco := pm2.Defaults
	eco.Root, eco.Hostname = root, health.HostPlaceholder
	return &activate.Real{
		Layout: f.layout, PM2: pm2.Runner{Root: root, Ecosystem: pm2.DefaultEcosystem, Env: "production"}, Ecosystem: eco,
		FixPinned: true, HealthURL: "http://{host}:3000/", HealthTimeout: time.Minute, Who: "bench", PID: os.Getpid(),
	}
}

// ours is next-deploy's activation, as the CLI runs it.
func ours(ctx context.Context, f *rig, id string) error {
	rep := activate.Run(ctx, f.real(), f.hosts, func(*release.State) (string, error) { return id, nil }, activate.Options{Batch: f.batch, Who: "bench", Progress: progress})
	return rep.Err
}

// progress prints the steps of ours with -steps.
func progress(host, format string, a ...any) {
	if *steps {
		fmt.Fprintf(os.Stderr, "     %s %s: %s\n", time.Now().Format("15:04:05.000"), host, fmt.Sprintf(format, a...))
	}
}

// byHand switches current and runs pm2 <action> <file> on f.batch hosts
// at once, batch after batch; with gate, each host must serve the
// release before its batch is done.
func byHand(action, file string, gate bool) func(ctx context.Context, f *rig, id string) error {
	return func(ctx context.Context, f *rig, id string) error {
		for start := 0; start < len(f.hosts); start += f.batch {
			// PerHost fans out over a bed's hosts: this batch's.
			batch := &bed.Bed{Hosts: f.b.Hosts[start:min(start+f.batch, len(f.hosts))]}
			_, err := benchkit.PerHost(batch, func(h *bed.Host) (struct{}, error) {
				if err := f.layout.Switch(ctx, f.hosts[h.Index], id); err != nil {
					return struct{}{}, err
				}
				start := time.Now()
				if err := f.byHandOn(ctx, h, action, file); err != nil {
					return struct{}{}, err
				}
				if *steps {
					// Timed as timedHost times ours's commands, to compare.
					fmt.Fprintf(os.Stderr, "     %s %s (bare): ran pm2 %s in %dms\n", start.Format("15:04:05.000"), h.Name(), action, time.Since(start).Milliseconds())
				}
				if !gate {
					return struct{}{}, nil
				}
				return struct{}{}, f.gate(ctx, f.hosts[h.Index], id)
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// bareOver is how the methods by hand reach a host: "ssh", the OpenSSH
// client, one session per host and command, as a script that reloads a
// fleet by hand does; or "local", the command run as the host's user on
// this machine, no SSH at all (a floor no remote tool can reach: the
// hosts of the bed are local users).
var bareOver = flag.String("bare-over", "ssh", "how bare, naive and nodrain run pm2 on a host: ssh (the OpenSSH client, as by hand) or local (as the host's user, no SSH)")

// bareFloor describes bare as -bare-over runs it: its method name, the
// goals' alternative, and what the goals' names add.
func bareFloor() (name, alternative, goal string) {
	if *bareOver == "local" {
		return "bare: pm2 reload in the same batches, on the host without SSH", "bare rolling pm2 reload on the host, no SSH", " (against bare without SSH)"
	}
	return "bare: ssh <host> pm2 reload in the same batches", "bare rolling pm2 reload over ssh", ""
}

// byHandOn runs `pm2 action file` in the host's app folder, as -bare-over
// says.
func (f *rig) byHandOn(ctx context.Context, h *bed.Host, action, file string) error {
	if *bareOver == "local" {
		if _, e, err := f.b.TryRunAs(h, `cd ~/app && pm2 "$1" "$2" --env production`, action, file); err != nil {
			return fmt.Errorf("pm2 %s: %w: %s", action, err, e)
		}
		return nil
	}
	script := "cd ~/app && pm2 " + remote.Quote(action) + " " + remote.Quote(file) + " --env production"
	if _, err := benchkit.Command(ctx, "ssh", "-F", f.b.SSHConfigFile, h.Name(), script); err != nil {
		return fmt.Errorf("pm2 %s: %w", action, err)
	}
	return nil
}

// timeRollback times n rollbacks of the fleet (to the previous release)
// under load, each after an activation to the other release, and single
// pm2 reload rounds of one host, with ours set up.
func (f *rig) timeRollback(ctx context.Context, n int) (rollback []sample, reload []time.Duration, err error) {
	run := pm2.Runner{Root: root, Ecosystem: pm2.DefaultEcosystem, Env: "production"}
	for range n {
		// The history knows only ours's switches (bare's are not
		// recorded): an activation first gives the rollback its previous.
		st, err := f.layout.State(ctx, f.hosts[0])
		if err != nil {
			return nil, nil, err
		}
		if err := ours(ctx, f, map[string]string{"r1": "r2", "r2": "r1"}[st.Current]); err != nil {
			return nil, nil, fmt.Errorf("activate before a rollback: %w", err)
		}
		s, err := f.underLoad(func() error {
			rep := activate.Run(ctx, f.real(), f.hosts, func(st *release.State) (string, error) { return st.Previous, nil },
				activate.Options{Action: activate.ActionRollback, Batch: f.batch, Who: "bench", Progress: progress})
			return rep.Err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("rollback: %w", err)
		}
		fmt.Fprintf(os.Stderr, "   rollback: %s in %.1fs\n", s.stats, s.elapsed.Seconds())
		rollback = append(rollback, s)
		start := time.Now()
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
