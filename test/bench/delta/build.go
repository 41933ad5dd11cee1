package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/next-deploy/test/bench/benchkit"

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

// withModules copies both trees into work with the node_modules folder
// mods merged into each one's node_modules (the trees' own files win),
// the same in both: a larger tree of many package files that the change
// from v1 to v2 does not touch.
func withModules(ctx context.Context, work, mods, tree1, tree2 string) (string, string, error) {
	var out []string
	for i, tree := range []string{tree1, tree2} {
		dst := filepath.Join(work, fmt.Sprintf("modules-v%d", i+1))
		fmt.Fprintf(os.Stderr, "copying %s with %s merged into its node_modules...\n", tree, mods)
		if _, err := benchkit.Command(ctx, "cp", "-a", tree, dst); err != nil {
			return "", "", err
		}
		if err := os.MkdirAll(filepath.Join(dst, "node_modules"), 0o755); err != nil {
			return "", "", err
		}
		if _, err := benchkit.Command(ctx, "cp", "-a", "-n", mods+"/.", filepath.Join(dst, "node_modules")); err != nil {
			return "", "", err
		}
		out = append(out, dst)
	}
	return out[0], out[1], nil
}
