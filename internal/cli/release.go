package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/org/next-deploy/pkg/release"
)

// ReleaseFlag is the --release flag of every step that names a release: an
// id, by default the first 7 characters of GITHUB_SHA. One type, so the
// default and its messages are worked out once.
type ReleaseFlag struct{ value string }

// Register adds --release to fs; what says what the id is for.
func (r *ReleaseFlag) Register(fs *flag.FlagSet, what string) {
	fs.StringVar(&r.value, "release", "", what+" (default: the first 7 characters of GITHUB_SHA)")
}

// ErrNoRelease is a required --release that was neither given nor
// derivable from GITHUB_SHA.
var ErrNoRelease = errors.New("--release is required (in GitHub Actions it defaults to the first 7 characters of GITHUB_SHA)")

// ID is the flag's value, else the default from GITHUB_SHA, checked
// against the release id rule. An empty id is an error only when required.
func (r *ReleaseFlag) ID(env *Env, required bool) (string, error) {
	id := r.value
	if id == "" {
		id = release.DefaultID(env.Getenv("GITHUB_SHA"))
	}
	if id == "" {
		if required {
			return "", ErrNoRelease
		}
		return "", nil
	}
	if err := release.ValidID(id); err != nil {
		return "", fmt.Errorf("--release: %w", err)
	}
	return id, nil
}
