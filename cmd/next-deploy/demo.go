package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
)

// demoCmd is the whole pipeline on this machine: the fixture app built
// twice, packed, delivered to a "local" host under a demo root, activated
// with pm2, and the second release rolled out under load.
type demoCmd struct {
	dir     string
	app     string
	port    int
	down    bool
	workers int
}

func (*demoCmd) Name() string { return "demo" }
func (*demoCmd) Synopsis() string {
	return "a local demo deploy: build the fixture, pack, deliver, activate v1, then roll out v2 under load"
}

func (c *demoCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", filepath.Join(os.TempDir(), "next-deploy-demo"), "demo root: the build copy, artifacts, deploy path and pm2 state")
	fs.StringVar(&c.app, "app", "test/fixtures/next-app", "the Next.js app to deploy")
	fs.IntVar(&c.port, "port", 3100, "port of the demo app on 127.0.0.1")
	fs.IntVar(&c.workers, "load", 4, "concurrent clients during the second rollout")
	fs.BoolVar(&c.down, "down", false, "stop the demo's pm2 and remove its root")
}

func (c *demoCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	if c.port < 1 || c.port > 65535 {
		return cli.Usagef("--port %d: want 1-65535", c.port)
	}
	root, err := filepath.Abs(c.dir)
	if err != nil {
		return cli.Usage(err)
	}
	// The demo's own pm2 daemon, never the operator's.
	if err := os.Setenv("PM2_HOME", filepath.Join(root, "pm2")); err != nil {
		return err
	}
	if c.down {
		return demoDown(env, root)
	}
	if _, err := os.Stat(filepath.Join(c.app, "package.json")); err != nil {
		return cli.Usagef("--app %s: no package.json (run the demo from the repository root, or point --app at a Next.js app)", c.app)
	}
	for _, tool := range []string{"node", "npm", "pm2"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("demo needs %s on PATH: install Node.js 20 and then npm install -g pm2@7.0.4", tool)
		}
	}
	src := filepath.Join(root, "src")
	if err := build.CopySources(c.app, src); err != nil {
		return fmt.Errorf("copy %s: %w", c.app, err)
	}
	deployPath := filepath.Join(root, "app")
	base := fmt.Sprintf("http://127.0.0.1:%d", c.port)
	url := base + "/"
	conn := []string{"--hosts", "local", "--path", deployPath}
	rollout := append(append([]string{}, conn...), "--port", strconv.Itoa(c.port), "--hostname", "127.0.0.1",
		"--instances", "2", "--health-url", url, "--pm2-env", "production")

	step := func(args ...string) error {
		env.Progressf("\n==> next-deploy %s", strings.Join(args, " "))
		if status := newApp().Main(ctx, env, args); status != cli.ExitOK {
			return fmt.Errorf("demo step %s failed (exit %d); see above; next-deploy demo --down cleans up", args[0], status)
		}
		return nil
	}
	ship := func(id string) error {
		if err := step("build-standalone", "--dir", src, "--release", id); err != nil {
			return err
		}
		if err := step("postbuild-copy-static", "--dir", src); err != nil {
			return err
		}
		if err := step("pack", "--source", filepath.Join(src, ".next", "standalone"), "--release", id, "--output-dir", filepath.Join(root, "dist")); err != nil {
			return err
		}
		return step(append([]string{"deliver", "--artifact", filepath.Join(root, "dist", id+".tar.zst")}, conn...)...)
	}
	v1, v2 := "demo-v1", "demo-v2"
	if err := ship(v1); err != nil {
		return err
	}
	if err := step(append([]string{"activate", "--release", v1}, rollout...)...); err != nil {
		return err
	}
	if err := ship(v2); err != nil {
		return err
	}
	// Home page GETs only: an app given with --app may have no /api/echo.
	load := pm2test.Load{BaseURL: base, Workers: max(c.workers, 1), NoPost: true, Pause: 20 * time.Millisecond}.Start(ctx)
	err = step(append([]string{"activate", "--release", v2}, rollout...)...)
	sum := load.Stop()
	fmt.Fprintf(env.Stdout, "\ndemo: rolled %s -> %s under load: %s\n", v1, v2, sum)
	fmt.Fprintf(env.Stdout, "demo: the app is at %s (deploy path %s); stop it with: go run ./cmd/next-deploy demo --down\n", url, deployPath)
	if err != nil {
		return err
	}
	if sum.Failures > 0 {
		return fmt.Errorf("demo: %d of %d requests failed during the rollout (%d slower than %s), the first: %s", sum.Failures, sum.Requests, sum.Slow, pm2test.DefaultSlowAfter, sum.Errors[0])
	}
	return nil
}

func demoDown(env *cli.Env, root string) error {
	if _, err := os.Stat(filepath.Join(root, "pm2", "pm2.pid")); err == nil {
		out, err := exec.Command("pm2", "kill").CombinedOutput()
		if err != nil {
			return fmt.Errorf("pm2 kill (PM2_HOME=%s/pm2): %w: %s", root, err, out)
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "demo: stopped and removed %s\n", root)
	return nil
}
