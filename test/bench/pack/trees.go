package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/org/next-deploy/pkg/build"
	"github.com/org/next-deploy/pkg/static"
	"github.com/org/next-deploy/test/bench/benchkit"
)

// buildFixture builds a copy of the fixture app and copies its static
// files in, like build-standalone and postbuild-copy-static do.
func buildFixture(ctx context.Context, work string, log io.Writer) (string, error) {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return "", err
	}
	app := filepath.Join(work, "next-app")
	// tar rather than cp: a local node_modules or .next in the fixture
	// stays behind.
	cp := exec.CommandContext(ctx, "sh", "-c", `tar -C "$1" --exclude=./node_modules --exclude=./.next -cf - . | tar -C "$2" -xf -`,
		"sh", filepath.Join(root, "test", "fixtures", "next-app"), app)
	if err := os.MkdirAll(app, 0o755); err != nil {
		return "", err
	}
	if b, err := cp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy fixture: %w: %s", err, b)
	}
	fmt.Fprintln(log, "building the fixture (npm ci, next build)...")
	if _, err := build.Build(ctx, build.Options{Dir: app, Release: "bench", Install: true, Environ: os.Environ(), Log: io.Discard}); err != nil {
		return "", err
	}
	res, err := static.Copy(app)
	if err != nil {
		return "", err
	}
	return res.Standalone, nil
}

// packageTree fetches a published npm package (`npm pack SPEC`, no
// install scripts, no dependencies) and lays it out as a standalone tree
// that only holds it: node_modules/<name>, a server.js and an empty
// .next/static, so that pack takes it. A package like next is what this
// project did not make: thousands of files of JavaScript, many of them
// bundles much alike (the CommonJS and ESM builds of the same sources,
// the server runtimes per router and flavour) far apart in the tree.
func packageTree(ctx context.Context, work, spec string, log io.Writer) (string, error) {
	dl := filepath.Join(work, "npm-pack")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "fetching %s (npm pack)...\n", spec)
	out, err := benchkit.Command(ctx, "npm", "pack", "--silent", "--pack-destination", dl, spec)
	if err != nil {
		return "", fmt.Errorf("npm pack %s: %w", spec, err)
	}
	tgz := filepath.Join(dl, strings.TrimSpace(lastLine(out)))
	name := strings.TrimSuffix(filepath.Base(tgz), ".tgz")
	if i := strings.LastIndex(name, "-"); i > 0 {
		name = name[:i] // next-15.5.4 -> next; a scope is lost, which is fine here
	}
	root := filepath.Join(work, "package-tree")
	dst := filepath.Join(root, "node_modules", name)
	for _, d := range []string{dst, filepath.Join(root, ".next", "static")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if _, err := benchkit.Command(ctx, "tar", "-xzf", tgz, "-C", dst, "--strip-components=1", "--no-same-owner"); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "server.js"), []byte("require('"+name+"')\n"), 0o644); err != nil {
		return "", err
	}
	return root, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// withoutNative is a hard-linked copy of src without shared objects and
// Node addons.
func withoutNative(work, src string) (string, error) {
	dst := filepath.Join(work, "js-only")
	if b, err := exec.Command("cp", "-al", src, dst).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cp -al: %w: %s", err, b)
	}
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && (strings.Contains(d.Name(), ".so") || strings.HasSuffix(d.Name(), ".node")) {
			return os.Remove(p)
		}
		return err
	})
	return dst, err
}
