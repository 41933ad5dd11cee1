package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/release"
)

type packCmd struct {
	source, format, outputDir string
	release                   cli.ReleaseFlag
	level                     int
}

func (*packCmd) Name() string { return "pack" }
func (*packCmd) Synopsis() string {
	return "pack the standalone tree into a reproducible, checksummed <release>.tar.<zst|gz|xz>"
}

func (c *packCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.source, "source", "", "the standalone tree (APP/.next/standalone, static copied in) (required)")
	c.release.Register(fs, "release id")
	fs.StringVar(&c.format, "format", string(release.Zstd), "compression: zst, gz or xz")
	fs.IntVar(&c.level, "level", 0, "compression level (zst 1-22, gz 1-9, xz 0-9); 0: the format's default")
	fs.StringVar(&c.outputDir, "output-dir", ".", "where <release>.tar.<ext> and its .sha256 are written")
	cli.JSONFlag(fs)
}

func (c *packCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	o, err := c.options(env, args)
	if err != nil {
		return cli.Usage(err)
	}
	o.Progress = env.Progressf
	res, err := archive.Pack(ctx, o)
	if err != nil {
		return err
	}
	t := &cli.Table{Title: "pack " + res.Release, Header: []string{"artifact", "bytes", "files", "unpacked", "app dir", "sha256", "seconds"}}
	t.Add(res.Artifact, humanBytes(res.Bytes), strconv.Itoa(res.Files), humanBytes(res.Unpacked), res.AppDir, res.SHA256, fmt.Sprintf("%.1f", res.Seconds))
	if err := env.Report(res, t); err != nil {
		return err
	}
	env.SetOutput("artifact", res.Artifact)
	env.SetOutput("sha256", res.SHA256)
	env.SetOutput("bytes", strconv.FormatInt(res.Bytes, 10))
	env.SetOutput("files", strconv.Itoa(res.Files))
	env.SetOutput("release", res.Release)
	return nil
}

func (c *packCmd) options(env *cli.Env, args []string) (archive.Options, error) {
	var errs []error
	if c.source == "" {
		errs = append(errs, errors.New("--source is required"))
	} else {
		errs = append(errs, dirExists("--source", c.source))
	}
	id, err := c.release.ID(env, true)
	errs = append(errs, err)
	f, err := release.ParseFormat(c.format)
	if err == nil && f == release.Plain {
		err = fmt.Errorf("archive format %q: want zst, gz or xz", c.format)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("--format: %w", err))
	} else if err := archive.CheckLevel(f, c.level); err != nil {
		errs = append(errs, fmt.Errorf("--level: %w", err))
	}
	mtime, err := sourceDateEpoch(env)
	errs = append(errs, err)
	return archive.Options{Source: c.source, Release: id, Format: f, Level: c.level, OutputDir: c.outputDir, ModTime: mtime},
		errors.Join(errs...)
}

// sourceDateEpoch is the time every entry gets: SOURCE_DATE_EPOCH when set
// (the commit's time: `git log -1 --format=%ct`), else a fixed date. One
// time per commit keeps the artifact reproducible and still gives a
// changed public/ file a new Last-Modified and ETag (nginx builds its ETag
// from the time and the size).
func sourceDateEpoch(env *cli.Env) (time.Time, error) {
	v := env.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return archive.DefaultModTime, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", v)
	}
	return time.Unix(n, 0).UTC(), nil
}
