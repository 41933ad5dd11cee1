package build

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrCheckoutChanged is a build that edited the app's manifest or
// lockfile.
var ErrCheckoutChanged = errors.New("next build changed the checkout")

// checkout remembers the manifests and the lockfile of an app before next
// build, to tell afterwards whether the build edited them: Next 13 run
// without pnpm's NODE_PATH "installs" @types/react by itself, editing
// package.json and pnpm-lock.yaml, and a release built so is not the
// commit's.
type checkout []struct {
	file string
	sum  [32]byte
}

// guardCheckout hashes package.json of the app, and the manifest and
// lockfile of the workspace root that governs it.
func guardCheckout(dir string, pm *PackageManager) checkout {
	files := []string{filepath.Join(dir, "package.json")}
	if pm != nil {
		files = append(files, filepath.Join(pm.Root, "package.json"), pm.Lockfile)
	}
	var c checkout
	for _, f := range slices.Compact(files) {
		c = append(c, struct {
			file string
			sum  [32]byte
		}{f, hashFile(f)})
	}
	return c
}

// changed is an error naming the files that differ now, nil if none.
func (c checkout) changed() error {
	var files []string
	for _, f := range c {
		if hashFile(f.file) != f.sum {
			files = append(files, f.file)
		}
	}
	if len(files) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s changed during next build; a release must be built from the commit as it is. "+
		"Next installs TypeScript packages it cannot resolve (typescript, @types/react, @types/node) by itself: "+
		"add them to devDependencies, commit the lockfile, and build again (git diff shows what it added)",
		ErrCheckoutChanged, strings.Join(files, " and "))
}

// hashFile is the file's sha256; a missing file hashes as empty with a
// marker, so that its appearing counts as a change.
func hashFile(f string) [32]byte {
	b, err := os.ReadFile(f)
	if err != nil {
		return sha256.Sum256(bytes.Join([][]byte{[]byte("missing:"), []byte(f)}, nil))
	}
	return sha256.Sum256(b)
}
