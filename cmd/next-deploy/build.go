package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/build"
)

type buildCmd struct {
	dir, install, memory, bundler, basePath string
	release                                 cli.ReleaseFlag
}

func (*buildCmd) Name() string { return "build-standalone" }
func (*buildCmd) Synopsis() string {
	return "run next build with standalone output for one release, measuring its memory"
}

func (c *buildCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", ".", "the Next.js app's directory (where next.config is)")
	c.release.Register(fs, "release id")
	fs.StringVar(&c.install, "install", "auto", "auto: clean install from the lockfile (npm ci, pnpm/yarn/bun frozen) unless node_modules already matches it; always: install even then; skip: use node_modules as it is")
	fs.StringVar(&c.memory, "memory", "auto", "V8 heap limit in MiB for next build; auto: 3/4 of the machine's or the cgroup's memory")
	fs.StringVar(&c.bundler, "bundler", build.BundlerDefault, "default (Next's choice: Turbopack) or webpack")
	fs.StringVar(&c.basePath, "base-path", "", "the basePath of next.config (/docs), also given to config nginx; checked before the build")
	cli.JSONFlag(fs)
}

func (c *buildCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	o, err := c.options(env, args)
	if err != nil {
		return cli.Usage(err)
	}
	o.Log = env.Stderr // stdout stays clean for --json
	o.Progress = env.Progressf
	o.Warn = env.Warnf
	if env.InActions {
		env.Action.Group("next build " + o.Release)
	}
	res, err := build.Build(ctx, o)
	if env.InActions {
		env.Action.EndGroup()
	}
	var bad *build.ConfigError
	if errors.As(err, &bad) {
		return cli.Usage(fmt.Errorf("build-standalone %s: %w", o.Dir, err))
	}
	if err != nil {
		return fmt.Errorf("build-standalone %s: %w", o.Dir, err)
	}
	t := &cli.Table{Title: "build-standalone " + res.Release, Header: []string{"release", "next", "app dir", "peak memory", "heap limit", "seconds", "pages checked"}}
	t.Add(res.Release, res.NextVersion, res.AppDir, fmt.Sprintf("%d MiB of %d MiB", res.PeakMiB, res.MemoryMiB),
		fmt.Sprintf("%d MiB", res.HeapMiB), fmt.Sprintf("%.1f", res.Seconds), strconv.Itoa(res.HTMLChecked))
	if err := env.Report(res, t); err != nil {
		return err
	}
	env.SetOutput("standalone-dir", res.Standalone)
	env.SetOutput("app-dir", res.AppDir)
	env.SetOutput("release", res.Release)
	env.SetOutput("peak-memory-mib", strconv.FormatInt(res.PeakMiB, 10))
	env.SetOutput("duration-seconds", fmt.Sprintf("%.1f", res.Seconds))
	env.SetOutput("next-version", res.NextVersion)
	return nil
}

// options checks every flag and reports every bad one at once.
func (c *buildCmd) options(env *cli.Env, args []string) (build.Options, error) {
	var errs []error
	id, err := c.release.ID(env, true)
	errs = append(errs, err)
	errs = append(errs, dirExists("--dir", c.dir))
	o := build.Options{Dir: c.dir, Release: id, Bundler: c.bundler, BasePath: c.basePath, Environ: os.Environ()}
	switch c.install {
	case "auto":
		o.Install = true
	case "always":
		o.Install, o.InstallAlways = true, true
	case "skip":
	default:
		errs = append(errs, fmt.Errorf("--install %q: want auto, always or skip", c.install))
	}

	if c.memory != "auto" {
		n, err := strconv.ParseInt(c.memory, 10, 64)
		if err != nil || n < 256 || n > 1<<20 {
			errs = append(errs, fmt.Errorf("--memory %q: want auto or a heap size in MiB from 256 to 1048576", c.memory))
		}
		o.HeapMiB = n
	}
	if c.bundler != build.BundlerDefault && c.bundler != build.BundlerWebpack {
		errs = append(errs, fmt.Errorf("--bundler %q: want default or webpack", c.bundler))
	}
	return o, errors.Join(errs...)
}

// dirExists checks that a directory flag names a directory.
func dirExists(flagName, dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("%s %q: %w", flagName, dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s %q: not a directory", flagName, dir)
	}
	return nil
}
