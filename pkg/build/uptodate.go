package build

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// UpToDate says whether node_modules already holds what the lockfile
// asks for, so that --install auto can leave it alone: npm ci deletes
// node_modules and installs everything again, 30 to 60 seconds for a
// Next app, on every build. Only npm needs this check: pnpm, yarn and bun
// make it themselves in their frozen install (pnpm: "Already up to date"
// in under a second), so for them it returns false and the install runs.
// reason says what differs, or what matched.
func (pm PackageManager) UpToDate() (ok bool, reason string) {
	if pm.Name != "npm" {
		return false, pm.Name + " checks node_modules itself"
	}
	return npmUpToDate(pm.Root, pm.Lockfile)
}

// npmLock is the part of package-lock.json (v2, v3) and of npm's hidden
// lockfile, node_modules/.package-lock.json, that says what is installed.
type npmLock struct {
	LockfileVersion int                   `json:"lockfileVersion"`
	Packages        map[string]npmPackage `json:"packages"`
}

type npmPackage struct {
	Version   string `json:"version"`
	Resolved  string `json:"resolved"`
	Integrity string `json:"integrity"`
	Link      bool   `json:"link"`
	Optional  bool   `json:"optional"`
	// DevOptional is an optional dependency of a dev dependency.
	DevOptional bool `json:"devOptional"`
	// The manifest of a workspace folder or the root (key ""): npm ci
	// refuses a lockfile whose specs differ from package.json's.
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
}

// npmUpToDate compares package-lock.json with the hidden lockfile npm
// writes after every install (what npm itself trusts as the state of
// node_modules): the same packages at the same versions, resolved and
// integrity; missing only optional ones (other platforms' binaries, such
// as @next/swc-darwin-arm64). It also checks that every installed package
// is on disk, and that package.json still says what the lockfile was made
// from, as npm ci would.
func npmUpToDate(root, lockfile string) (bool, string) {
	hidden := filepath.Join(root, "node_modules", ".package-lock.json")
	var want, got npmLock
	if err := readJSON(lockfile, &want); err != nil {
		return false, err.Error()
	}
	if err := readJSON(hidden, &got); err != nil {
		return false, "no npm install in node_modules yet (" + filepath.Base(hidden) + ": " + errNotExistText(err) + ")"
	}
	if want.LockfileVersion < 2 || want.Packages == nil {
		return false, fmt.Sprintf("%s has lockfileVersion %d: npm 7 or newer writes the version this check reads", filepath.Base(lockfile), want.LockfileVersion)
	}
	if why := comparePackages(want.Packages, got.Packages); why != "" {
		return false, why
	}
	for _, key := range slices.Sorted(maps.Keys(want.Packages)) {
		if isInstalledPath(key) {
			continue
		}
		if why := compareManifest(root, key, want.Packages[key]); why != "" {
			return false, why
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got.Packages)) {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(key), "package.json")); isInstalledPath(key) && err != nil {
			return false, key + " is in " + filepath.Base(hidden) + " but not on disk"
		}
	}
	return true, fmt.Sprintf("node_modules matches %s", filepath.Base(lockfile))
}

// comparePackages says how the installed packages differ from the
// lockfile's, "" when they do not.
func comparePackages(want, got map[string]npmPackage) string {
	for _, key := range slices.Sorted(maps.Keys(want)) {
		w := want[key]
		if !isInstalledPath(key) {
			continue // the root and workspace folders: compareManifest
		}
		g, ok := got[key]
		switch {
		case !ok && (w.Optional || w.DevOptional):
		case !ok:
			return key + " is in the lockfile but not installed"
		case g.Version != w.Version || g.Resolved != w.Resolved || g.Integrity != w.Integrity || g.Link != w.Link:
			return fmt.Sprintf("%s is %s installed, %s in the lockfile", key, g.Version, w.Version)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[key]; !ok && isInstalledPath(key) {
			return key + " is installed but not in the lockfile"
		}
	}
	return ""
}

// compareManifest checks that the package.json of the root or of a
// workspace folder asks for what the lockfile recorded.
func compareManifest(root, key string, locked npmPackage) string {
	manifest := filepath.Join(root, filepath.FromSlash(key), "package.json")
	var m npmPackage
	if err := readJSON(manifest, &m); err != nil {
		return err.Error()
	}
	for _, d := range []struct {
		name      string
		pkg, lock map[string]string
	}{
		{"dependencies", m.Dependencies, locked.Dependencies},
		{"devDependencies", m.DevDependencies, locked.DevDependencies},
		{"optionalDependencies", m.OptionalDependencies, locked.OptionalDependencies},
		{"peerDependencies", m.PeerDependencies, locked.PeerDependencies},
	} {
		if !maps.Equal(d.pkg, d.lock) {
			return fmt.Sprintf("the %s of %s differ from the lockfile's", d.name, manifest)
		}
	}
	return ""
}

// isInstalledPath says whether a key of "packages" is an installed
// package (node_modules/x, a/node_modules/y) rather than the root ("") or
// a workspace folder (apps/web).
func isInstalledPath(key string) bool {
	return strings.HasPrefix(key, "node_modules/") || strings.Contains(key, "/node_modules/") || path.Base(key) == "node_modules"
}

func readJSON(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func errNotExistText(err error) string {
	if os.IsNotExist(err) {
		return "missing"
	}
	return err.Error()
}
