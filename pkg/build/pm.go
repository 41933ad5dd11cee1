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
)

// PackageManager is the package manager a project's lockfile names, and
// where that lockfile is: the app dir itself, or a workspace root above it
// in a monorepo.
type PackageManager struct {
	// Name is npm, pnpm, yarn or bun.
	Name string `json:"name"`
	// Lockfile is the absolute path of the lockfile found.
	Lockfile string `json:"lockfile"`
	// Root is the directory holding the lockfile: installs run there.
	Root string `json:"root"`
	// Berry is true for yarn 2+ (a .yarnrc.yml next to yarn.lock), whose
	// frozen install flag differs from yarn 1's.
	Berry bool `json:"-"`
}

// lockfiles in the order they are looked for in one directory.
var lockfiles = []struct{ file, pm string }{
	{"package-lock.json", "npm"},
	{"npm-shrinkwrap.json", "npm"},
	{"pnpm-lock.yaml", "pnpm"},
	{"yarn.lock", "yarn"},
	{"bun.lock", "bun"},
	{"bun.lockb", "bun"},
}

// ErrNoLockfile is returned when no lockfile is found from the app dir up
// to the repository root: an install without one is not reproducible.
var ErrNoLockfile = errors.New("no lockfile")

// DetectPackageManager finds the lockfile that governs dir: in dir or the
// nearest parent that has one (workspace roots hold the lockfile of every
// app below them). The search stops at a directory holding .git, so a
// lockfile outside the repository is never picked up. Two lockfiles of
// different managers in one directory are refused: which one CI should
// trust is the user's call.
func DetectPackageManager(dir string) (PackageManager, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return PackageManager{}, err
	}
	for d := abs; ; d = filepath.Dir(d) {
		var found []PackageManager
		for _, l := range lockfiles {
			p := filepath.Join(d, l.file)
			if _, err := os.Stat(p); err == nil {
				found = append(found, PackageManager{Name: l.pm, Lockfile: p, Root: d})
			}
		}
		if len(found) > 0 {
			return pickLockfile(d, found)
		}
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil || filepath.Dir(d) == d {
			return PackageManager{}, fmt.Errorf("%w in %s or any parent up to %s: commit the lockfile of your package manager", ErrNoLockfile, abs, d)
		}
	}
}

func pickLockfile(dir string, found []PackageManager) (PackageManager, error) {
	pm := found[0]
	for _, f := range found[1:] {
		if f.Name != pm.Name {
			return PackageManager{}, fmt.Errorf("%s has lockfiles of both %s and %s: delete the one you do not use", dir, pm.Name, f.Name)
		}
	}
	if pm.Name == "yarn" {
		_, err := os.Stat(filepath.Join(dir, ".yarnrc.yml"))
		pm.Berry = err == nil
	}
	return pm, nil
}

// InstallCommand is the clean, lockfile-exact install of the package
// manager: it fails instead of updating a lockfile that is out of date.
func (pm PackageManager) InstallCommand() []string {
	switch pm.Name {
	case "npm":
		return []string{"npm", "ci", "--no-audit", "--no-fund"}
	case "pnpm":
		return []string{"pnpm", "install", "--frozen-lockfile"}
	case "yarn":
		if pm.Berry {
			return []string{"yarn", "install", "--immutable"}
		}
		return []string{"yarn", "install", "--frozen-lockfile"}
	case "bun":
		return []string{"bun", "install", "--frozen-lockfile"}
	}
	return nil
}

// ExecCommand runs a binary of the project's dependencies through the
// package manager (pnpm exec next, yarn next, npx next, bun x next), as a
// script in package.json would: pnpm's .bin wrapper sets NODE_PATH to its
// virtual store, without which Next 13 cannot find @types/react and
// installs it by itself, editing package.json and the lockfile.
func (pm PackageManager) ExecCommand(bin string, args ...string) []string {
	var argv []string
	switch pm.Name {
	case "npm":
		argv = []string{"npx", "--no-install", bin}
	case "pnpm":
		argv = []string{"pnpm", "exec", bin}
	case "yarn":
		// yarn 1 has no exec: "yarn next" runs the binary unless
		// package.json has a script of that name.
		argv = []string{"yarn", bin}
	case "bun":
		argv = []string{"bun", "x", bin}
	default:
		return nil
	}
	return append(argv, args...)
}

// nextCommand runs next through the package manager (pnpm exec next
// build), as a package.json script would, with the environment its .bin
// wrapper sets; node and next's CLI directly only without a lockfile or
// without the package manager on PATH.
func (o Options) nextCommand(pm *PackageManager, node, next string, args []string, res *Result) []string {
	argv := []string{node, next}
	if pm != nil {
		if via := pm.ExecCommand("next", args...); via != nil {
			bin, err := exec.LookPath(via[0])
			if err == nil {
				res.NextCommand = strings.Join(via, " ")
				return append([]string{bin}, via[1:]...)
			}
			o.warn(res, fmt.Sprintf("%s is not on PATH: running %s directly, without the environment %s gives it", via[0], next, pm.Name))
		}
	}
	res.NextCommand = strings.Join(append([]string{"node", next}, args...), " ")
	return append(argv, args...)
}

// Install runs the clean install in the lockfile's directory, streaming
// its output to log.
func (pm PackageManager) Install(ctx context.Context, env []string, log io.Writer) error {
	argv := pm.InstallCommand()
	if argv == nil {
		return fmt.Errorf("unknown package manager %q", pm.Name)
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		hint := "install Node.js (actions/setup-node), which brings npm"
		if pm.Name != "npm" {
			hint = fmt.Sprintf("enable it with 'corepack enable' or install %s", pm.Name)
		}
		return fmt.Errorf("%s is not on PATH, and %s asks for it: %s", argv[0], filepath.Base(pm.Lockfile), hint)
	}
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	cmd.Dir = pm.Root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s in %s: %w", strings.Join(argv, " "), pm.Root, err)
	}
	return nil
}
