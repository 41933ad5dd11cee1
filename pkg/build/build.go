// Package build owns turning a Next.js app into the standalone build of one
// release on the CI runner: which package manager installs it (and
// whether node_modules already matches the lockfile), next.config as
// Next's own loader resolves it (checked before the build), the
// environment next.config reads (release, asset prefix, deployment id),
// the V8 heap size for the memory at hand, running next build through the
// package manager while measuring the memory of its whole process tree,
// telling an out-of-memory death from other failures, refusing a build
// that edited the app's manifest or lockfile, and checking what came out
// (through pkg/standalone: the standalone output, where server.js is,
// assets under /<release>/_next/).
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/org/next-deploy/pkg/standalone"
)

// Bundlers next build can be asked for; "default" is Next's own choice
// (Turbopack since Next 16).
const (
	BundlerDefault = "default"
	BundlerWebpack = "webpack"
)

// Options is one build.
type Options struct {
	// Dir is the app's directory (where next.config is).
	Dir     string
	Release string
	// Install runs the package manager's clean install first, unless
	// node_modules already matches the lockfile (UpToDate).
	Install bool
	// InstallAlways installs even when node_modules matches the lockfile
	// (--install always).
	InstallAlways bool
	// BasePath is the basePath next.config must resolve to, the one
	// config nginx is given (--base-path); "" for none.
	BasePath string
	// HeapMiB is the V8 heap limit; 0 sizes it from the memory at hand.
	HeapMiB int64
	Bundler string
	// Environ is the environment the build starts from (os.Environ()).
	Environ []string
	// Log receives the install's and the build's output.
	Log io.Writer
	// Progress reports each stage.
	Progress func(format string, a ...any)
	// Warn reports a finding that does not stop the build; nil: Progress.
	Warn func(format string, a ...any)
	// Sys is the file system root for /proc and /sys; "" is "/".
	Sys string
	// SampleEvery is the memory sampling interval; 0 is 200ms.
	SampleEvery time.Duration
}

// Result is a finished build.
type Result struct {
	standalone.Output
	Release        string `json:"release"`
	PackageManager string `json:"package_manager,omitempty"`
	Installed      bool   `json:"installed"`
	// InstallSkipped says why --install auto left node_modules alone.
	InstallSkipped string `json:"install_skipped,omitempty"`
	// InstallSeconds is how long the install took (a frozen pnpm or yarn
	// install of an up-to-date node_modules: about a second).
	InstallSeconds float64 `json:"install_seconds,omitempty"`
	// NextVersion is the version of the next package that built.
	NextVersion string `json:"next_version,omitempty"`
	// NextCommand is how next build was started (pnpm exec next build).
	NextCommand string `json:"next_command"`
	// Config is next.config as Next resolved it before the build.
	Config *NextConfig `json:"next_config,omitempty"`
	// Warnings are findings that do not stop the build.
	Warnings    []string      `json:"warnings,omitempty"`
	Bundler     string        `json:"bundler"`
	HeapMiB     int64         `json:"heap_mib"`
	HeapSource  string        `json:"heap_source"`
	MemoryMiB   int64         `json:"memory_mib"`
	PeakMiB     int64         `json:"peak_memory_mib"`
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"duration_seconds"`
	HTMLChecked int           `json:"html_checked"`
}

// Build installs (when asked and needed), checks next.config as Next
// resolves it, runs next build for one release through the package
// manager, and checks its output and that it left the checkout alone.
func Build(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return nil, fmt.Errorf("%s is not a Node.js app: %w", dir, err)
	}
	res := &Result{Release: o.Release, Bundler: o.Bundler}
	pm, err := install(ctx, o, dir, res)
	if err != nil {
		return nil, err
	}
	run, err := o.prepare(ctx, dir, pm, res)
	if err != nil {
		return nil, err
	}
	o.Progress("next build of %s as release %s (%s; heap limit %d MiB, %s)", dir, o.Release, res.NextCommand, res.HeapMiB, res.HeapSource)
	guard := guardCheckout(dir, pm)
	start := time.Now()
	peak, err := run.run(ctx)
	res.Duration = time.Since(start)
	res.Seconds = res.Duration.Round(time.Millisecond).Seconds()
	res.PeakMiB = peak >> 20
	if changed := guard.changed(); changed != nil {
		return res, changed
	}
	if err != nil {
		return res, run.explain(ctx, err, res)
	}
	if res.Output, err = standalone.Locate(dir); err != nil {
		return res, err
	}
	if res.HTMLChecked, err = res.CheckAssetPrefix(standalone.AssetPrefix(o.BasePath, o.Release)); err != nil {
		return res, err
	}
	return res, nil
}

func (o *Options) defaults() {
	if o.Bundler == "" {
		o.Bundler = BundlerDefault
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Warn == nil {
		progress := o.Progress
		o.Warn = func(format string, a ...any) { progress("warning: "+format, a...) }
	}
	if o.Sys == "" {
		o.Sys = "/"
	}
	if o.SampleEvery == 0 {
		o.SampleEvery = 200 * time.Millisecond
	}
}

// install installs the dependencies when asked and node_modules does not
// already match the lockfile. It returns the package manager, nil when
// no lockfile says which (--install skip only).
func install(ctx context.Context, o Options, dir string, res *Result) (*PackageManager, error) {
	pm, err := DetectPackageManager(dir)
	if err != nil {
		if o.Install || o.InstallAlways {
			return nil, fmt.Errorf("install dependencies of %s: %w", dir, err)
		}
		return nil, nil // --install skip: whatever node_modules holds is used
	}
	res.PackageManager = pm.Name
	if !o.Install && !o.InstallAlways {
		return &pm, nil
	}
	if ok, why := pm.UpToDate(); ok && !o.InstallAlways {
		res.InstallSkipped = why
		o.Progress("%s: install skipped (--install always forces it)", why)
		return &pm, nil
	}
	o.Progress("installing dependencies of %s: %s in %s", dir, strings.Join(pm.InstallCommand(), " "), pm.Root)
	start := time.Now()
	if err := pm.Install(ctx, o.Environ, o.Log); err != nil {
		return nil, fmt.Errorf("install dependencies of %s: %w", dir, err)
	}
	res.Installed = true
	res.InstallSeconds = time.Since(start).Round(time.Millisecond).Seconds()
	return &pm, nil
}

// nextRun is a prepared next build.
type nextRun struct {
	cmd    *exec.Cmd
	tail   *tailBuffer
	memory Memory
	o      Options
	kills  int64 // oom_kill counter before the build
}

// prepare finds node and next, sizes the heap, builds the environment,
// checks next.config as Next resolves it, and decides how next starts.
func (o Options) prepare(ctx context.Context, dir string, pm *PackageManager, res *Result) (*nextRun, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not on PATH: install Node.js 20.9 or newer (actions/setup-node): %w", err)
	}
	next, err := findNext(dir)
	if err != nil {
		return nil, err
	}
	res.NextVersion = nextVersion(next)
	mem, err := ReadMemory(o.Sys)
	if err != nil {
		return nil, err
	}
	res.MemoryMiB = mem.MiB()
	env, heap, source := buildEnv(o, mem)
	res.HeapMiB, res.HeapSource = heap, source
	if err := o.checkConfig(ctx, node, dir, env, res); err != nil {
		return nil, err
	}
	if w := hostnameWarning(res.NextVersion); w != "" {
		o.warn(res, w)
	}
	args := []string{"build"}
	if o.Bundler == BundlerWebpack {
		args = append(args, "--webpack")
	}
	argv := o.nextCommand(pm, node, next, args, res)
	r := &nextRun{tail: &tailBuffer{max: 64 << 10}, memory: mem, o: o}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Dir, r.cmd.Env = dir, env
	r.cmd.Stdout = io.MultiWriter(o.Log, r.tail)
	r.cmd.Stderr = r.cmd.Stdout
	// Its own process group: the memory sampler finds reparented workers
	// by it, and a cancel or a failure stops every worker, not only next.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return r, nil
}

func (o Options) warn(res *Result, w string) {
	res.Warnings = append(res.Warnings, w)
	o.Warn("%s", w)
}

// findNext finds next's CLI in the app's node_modules or, in a monorepo
// with hoisted dependencies, in a parent's.
func findNext(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", "next", "dist", "bin", "next")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("next is not installed for %s (no node_modules/next here or above): add it to the dependencies and build with --install auto", dir)
		}
	}
}

// buildEnv is the build's environment: the release variables next.config
// reads (the asset prefix under the basePath, if any), NEXT_DEPLOYMENT_ID
// (Next then makes a browser holding a page of another release reload it
// instead of mixing chunks), no telemetry, and the heap limit in
// NODE_OPTIONS, which reaches every worker next forks.
func buildEnv(o Options, mem Memory) (env []string, heap int64, source string) {
	set := map[string]string{
		"NEXT_DEPLOY_RELEASE":      o.Release,
		"NEXT_DEPLOY_ASSET_PREFIX": standalone.AssetPrefix(o.BasePath, o.Release),
		"NEXT_DEPLOYMENT_ID":       o.Release,
		"NEXT_TELEMETRY_DISABLED":  "1",
	}
	nodeOptions := ""
	for _, kv := range o.Environ {
		k, v, _ := strings.Cut(kv, "=")
		if k == "NODE_OPTIONS" {
			nodeOptions = v
		}
		if _, ours := set[k]; !ours && k != "NODE_OPTIONS" {
			env = append(env, kv)
		}
	}
	heap, source = o.HeapMiB, "--memory"
	switch user := userHeap(nodeOptions); {
	case o.HeapMiB > 0:
	case user > 0:
		heap, source = user, "NODE_OPTIONS"
	default:
		heap, source = mem.HeapMiB(), fmt.Sprintf("3/4 of %d MiB from %s", mem.MiB(), mem.Source)
	}
	if source != "NODE_OPTIONS" {
		// The last --max-old-space-size wins in Node.
		nodeOptions = strings.TrimSpace(nodeOptions + fmt.Sprintf(" --max-old-space-size=%d", heap))
	}
	set["NODE_OPTIONS"] = nodeOptions
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env, heap, source
}

// userHeap is the heap limit already in NODE_OPTIONS, 0 if none.
func userHeap(nodeOptions string) int64 {
	var n int64
	for f := range strings.FieldsSeq(nodeOptions) {
		if v, ok := strings.CutPrefix(f, "--max-old-space-size="); ok {
			fmt.Sscan(v, &n)
		}
	}
	return n
}

// run runs next build and returns the peak memory of its process tree.
func (r *nextRun) run(ctx context.Context) (int64, error) {
	r.kills, _ = r.memory.OOMKills()
	if err := r.cmd.Start(); err != nil {
		return 0, fmt.Errorf("start next build: %w", err)
	}
	pgid := r.cmd.Process.Pid
	sampler := startTreePeak(filepath.Join(r.o.Sys, "proc"), pgid, r.o.SampleEvery)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		case <-done:
		}
	}()
	err := r.cmd.Wait()
	close(done)
	// Workers left behind by a failed build would hold memory and files.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	peak := sampler.stop()
	if ru, ok := r.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = max(peak, ru.Maxrss<<10) // Maxrss is in KiB on Linux
	}
	return peak, err
}

// explain turns a failed next build into an error that says why.
func (r *nextRun) explain(ctx context.Context, err error, res *Result) error {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return err
	}
	kills, _ := r.memory.OOMKills()
	o := outcome{tail: r.tail.Bytes(), oomKills: kills - r.kills, canceled: ctx.Err() != nil}
	// Killed itself, or (through yarn, whose exit status says so) its child.
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && (ws.Signaled() && ws.Signal() == syscall.SIGKILL || ws.ExitStatus() == 128+int(syscall.SIGKILL)) {
		o.sigkilled = true
	}
	if ctx.Err() != nil {
		return fmt.Errorf("next build in %s: canceled: %w", r.cmd.Dir, ctx.Err())
	}
	if kind, evidence := classifyOOM(o); kind != "" {
		return &OOMError{Kind: kind, HeapMiB: res.HeapMiB, MemoryMiB: res.MemoryMiB, PeakMiB: res.PeakMiB, Evidence: evidence}
	}
	return fmt.Errorf("next build in %s failed (%w): its output above says why", r.cmd.Dir, err)
}
