package main

import (
	"context"
	"fmt"
	"github.com/org/next-deploy/test/bench/benchkit"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/pkg/static"
)

// The one-line change from v1 to v2, in app/page.tsx.
const (
	pageLine    = "<h1>next-deploy fixture</h1>"
	pageLineNew = "<h1>next-deploy fixture, changed</h1>"
)

// buildFixture builds a copy of the fixture as release v1, then, with one
// line of a page changed, as release v2, in the same directory (as a CI
// runner with a restored checkout would: node_modules installed once),
// like build-standalone and postbuild-copy-static do. It returns the two
// standalone trees.
func buildFixture(ctx context.Context, work string) (string, string, error) {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return "", "", err
	}
	app := filepath.Join(work, "next-app")
	if err := build.CopySources(filepath.Join(root, "test", "fixtures", "next-app"), app); err != nil {
		return "", "", err
	}
	var trees []string
	for i, id := range []string{"v1", "v2"} {
		if i > 0 {
			if err := changeLine(filepath.Join(app, "app", "page.tsx")); err != nil {
				return "", "", err
			}
		}
		fmt.Fprintf(os.Stderr, "building the fixture as %s (next build)...\n", id)
		if _, err := build.Build(ctx, build.Options{Dir: app, Release: id, Install: i == 0, Environ: os.Environ(), Log: io.Discard}); err != nil {
			return "", "", err
		}
		res, err := static.Copy(app)
		if err != nil {
			return "", "", err
		}
		// The next build starts from an empty .next/standalone: keep this one.
		tree := filepath.Join(work, "tree-"+id)
		if err := os.Rename(res.Standalone, tree); err != nil {
			return "", "", err
		}
		trees = append(trees, tree)
	}
	return trees[0], trees[1], nil
}

func changeLine(page string) error {
	src, err := os.ReadFile(page)
	if err != nil {
		return err
	}
	changed := strings.Replace(string(src), pageLine, pageLineNew, 1)
	if changed == string(src) {
		return fmt.Errorf("%s: no line %q to change", page, pageLine)
	}
	return os.WriteFile(page, []byte(changed), 0o644)
}
