// Package standalone owns the layout of a Next.js standalone tree (next
// build with output: "standalone"): where it is in an app
// (.next/standalone), where server.js is inside it (nested under the
// app's path in a monorepo: apps/web/server.js), what must sit next to
// server.js for the tree to run on a server (.next/static, copied in after
// the build), and whether the build asks for its assets under
// /<release>/_next/. The build, static and pack steps all read a tree
// through it.
package standalone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ConfigSnippet is what an app adds to next.config so that a build made by
// build-standalone has the layout the servers expect. NEXT_DEPLOYMENT_ID
// needs no line: Next reads it by itself.
const ConfigSnippet = `  output: "standalone",
  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,
  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,`

// ErrNotStandalone is a build without standalone output.
var ErrNotStandalone = errors.New("no standalone output")

// Output is a finished standalone build.
type Output struct {
	// Project is the app's directory (--dir): public/ and .next/ are there.
	Project string `json:"project"`
	// Standalone is Project/.next/standalone, the tree that is shipped.
	Standalone string `json:"standalone_dir"`
	// AppDir is where server.js is inside Standalone, slash-separated:
	// "." for a single app, "apps/web" for a monorepo app.
	AppDir string `json:"app_dir"`
}

// ServerDir is the absolute directory holding server.js.
func (o Output) ServerDir() string {
	return filepath.Join(o.Standalone, filepath.FromSlash(o.AppDir))
}

// Locate finds the standalone output of the app in project.
func Locate(project string) (Output, error) {
	abs, err := filepath.Abs(project)
	if err != nil {
		return Output{}, err
	}
	o := Output{Project: abs, Standalone: filepath.Join(abs, ".next", "standalone")}
	if fi, err := os.Stat(o.Standalone); err != nil || !fi.IsDir() {
		return Output{}, fmt.Errorf("%w in %s: .next/standalone is missing; build with output: \"standalone\" in next.config:\n%s",
			ErrNotStandalone, abs, ConfigSnippet)
	}
	o.AppDir, err = FindAppDir(o.Standalone)
	if err != nil {
		return Output{}, err
	}
	return o, nil
}

// CheckShippable refuses a standalone tree that would not run on a
// server: one without server.js (an app's directory rather than its
// standalone output), or without .next/static next to server.js (the
// static files were not copied in, and every page would load without its
// JavaScript and CSS).
func CheckShippable(root string) error {
	appDir, err := FindAppDir(root)
	if err != nil {
		return fmt.Errorf("%w: want the standalone output (APP/.next/standalone)", err)
	}
	static := filepath.Join(root, filepath.FromSlash(appDir), ".next", "static")
	if _, err := os.Stat(static); err != nil {
		return fmt.Errorf("%s is missing: run postbuild-copy-static before pack", static)
	}
	return nil
}
