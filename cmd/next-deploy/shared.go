package main

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/release"
)

// sharedEntries are deliver's shared files and folders: --shared (or
// its input) when given, else the shared list of next-deploy.yml.
func sharedEntries(env *cli.Env, flag string) ([]string, error) {
	var entries []string
	if strings.TrimSpace(flag) != "" {
		entries = strings.FieldsFunc(flag, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	} else if f := env.Config(); f != nil {
		entries = f.Shared
	}
	if err := release.CheckSharedList(entries); err != nil {
		return nil, fmt.Errorf("--shared: %w", err)
	}
	return entries, nil
}

// warnSharedInside says what of the artifact the shared links take the
// place of: a .env.production from the checkout, an uploads/ folder from
// the build never serve.
func warnSharedInside(env *cli.Env, a deliver.Artifact, shared []string, layout release.Layout) {
	for _, p := range a.SharedInside(shared) {
		env.Warnf("the artifact holds %s: every release links it from %s/ on each host instead, and the artifact's copy is dropped (keep secrets and uploads out of the build)", p, path.Join(layout.Root, release.SharedDir))
	}
}

// deliverNote is the note column of a host's row.
func deliverNote(r deliver.Result) string {
	var notes []string
	if r.Fallback != "" {
		notes = append(notes, "full upload: "+r.Fallback)
	}
	if len(r.Unlinked) > 0 {
		notes = append(notes, fmt.Sprintf("held since before shared named %s: no link for it in this release (deliver under a new release id)", strings.Join(r.Unlinked, ", ")))
	}
	notes = append(notes, r.Error)
	return strings.Join(slices.DeleteFunc(notes, func(s string) bool { return s == "" }), "; ")
}
