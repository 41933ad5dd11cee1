// Package release owns the server layout every step shares (DESIGN.md):
// <root>/releases/<id>/ immutable release trees with their manifest,
// <root>/current switched atomically, <root>/.next-deploy/ with the deploy
// lock and the activation history. Every operation is a fixed POSIX sh
// script (scripts/*.sh, embedded) run through remote.Host with quoted
// arguments; the server needs only sh, tar and coreutils.
package release

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// ErrInvalid marks input errors of this package (exit status 2).
var ErrInvalid = errors.New("invalid input")

// IDPattern is a release id, unanchored: the one spelling of the rule for
// every generator and matcher that embeds it (nginx locations, page
// scrapers, pm2 names).
const IDPattern = `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`

// IDRe matches a whole release id.
var IDRe = regexp.MustCompile(`^` + IDPattern + `$`)

// ValidID checks a release id: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$. Anything
// else is refused before a host is touched.
func ValidID(id string) error {
	if !IDRe.MatchString(id) {
		return fmt.Errorf("%w: release id %q: want 1-64 characters of letters, digits, '.', '_', '-', starting with a letter or digit", ErrInvalid, id)
	}
	return nil
}

// DefaultID is the release id derived from a commit: its first 7 characters.
func DefaultID(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Names inside the deploy root.
const (
	ReleasesDir  = "releases"
	CurrentLink  = "current"
	StateDir     = ".next-deploy"
	ManifestPath = StateDir + "/release.json" // inside a release
	HistoryFile  = "history.jsonl"            // inside StateDir
	LockDir      = "lock"                     // inside StateDir
	IncomingPfx  = ".incoming-"               // releases/.incoming-<id>-<rand>
	SharedDir    = "shared"                   // files every release links to (shared.go)
)

// Layout is a deploy root on a server.
type Layout struct {
	// Root is absolute ("/app") or under the login's home ("~/app").
	Root string
}

// PathChars is the one rule for the characters of a deploy path, after an
// optional leading "~/": the path reaches shell scripts, nginx and pm2's
// JavaScript ecosystem, and a newline or U+2028 in it once ran as code when
// pm2 loaded the ecosystem. Letters, digits, '/', '.', '_', '-' are safe in
// all three.
var PathChars = regexp.MustCompile(`^[A-Za-z0-9/._-]+$`)

// CheckPathChars applies PathChars to a deploy path ("~/" allowed first).
func CheckPathChars(root string) error {
	if !PathChars.MatchString(strings.TrimPrefix(root, "~/")) {
		return fmt.Errorf("%w: deploy path %q: want letters, digits, '/', '.', '_', '-' only (after an optional ~/)", ErrInvalid, root)
	}
	return nil
}

// NewLayout checks a --path value: absolute or starting with "~/", clean,
// not "/", of PathChars only.
func NewLayout(root string) (Layout, error) {
	bad := func(why string) (Layout, error) {
		return Layout{}, fmt.Errorf("%w: deploy path %q: %s", ErrInvalid, root, why)
	}
	if root == "" {
		return bad("empty (want an absolute path like /app, or ~/app)")
	}
	if err := CheckPathChars(root); err != nil {
		return Layout{}, err
	}
	rel, home := strings.CutPrefix(root, "~/")
	if !home && !strings.HasPrefix(root, "/") {
		return bad("must be absolute (/app) or under the home directory (~/app)")
	}
	p := root
	if home {
		p = "/" + rel
	}
	if slices := strings.Split(p, "/"); containsDotDot(slices) {
		return bad("must not contain '..'")
	}
	clean := path.Clean(p)
	if clean == "/" {
		return bad("must not be the file system root or the home directory itself")
	}
	if home {
		return Layout{Root: "~" + clean}, nil
	}
	return Layout{Root: clean}, nil
}

func containsDotDot(parts []string) bool {
	for _, p := range parts {
		if p == ".." {
			return true
		}
	}
	return false
}
