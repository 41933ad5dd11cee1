package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/static"
)

type postbuildCmd struct {
	dir string
}

func (*postbuildCmd) Name() string { return "postbuild-copy-static" }
func (*postbuildCmd) Synopsis() string {
	return "copy public/ and .next/static into the standalone tree, next to server.js"
}

func (c *postbuildCmd) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", ".", "the Next.js app's directory, built by build-standalone")
	cli.JSONFlag(fs)
}

func (c *postbuildCmd) Run(ctx context.Context, env *cli.Env, args []string) error {
	var errs []error
	errs = append(errs, dirExists("--dir", c.dir))
	if err := errors.Join(errs...); err != nil {
		return cli.Usage(err)
	}
	res, err := static.Copy(c.dir)
	if err != nil {
		return fmt.Errorf("postbuild-copy-static %s: %w", c.dir, err)
	}
	t := &cli.Table{Title: "postbuild-copy-static", Header: []string{"standalone dir", "app dir", "copied", "files", "bytes"}}
	t.Add(res.Standalone, res.AppDir, strings.Join(res.Copied, ", "), strconv.Itoa(res.Files), humanBytes(res.Bytes))
	if err := env.Report(res, t); err != nil {
		return err
	}
	env.SetOutput("standalone-dir", res.Standalone)
	env.SetOutput("app-dir", res.AppDir)
	return nil
}
