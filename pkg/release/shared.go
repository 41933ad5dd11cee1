package release

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Shared files and folders (DESIGN.md, Server layout): what every release
// of an app has at the same place but never ships in the artifact, the
// runtime secrets (.env.production) and what the app writes (uploads/),
// live once per host in <root>/shared/ and are linked into each release
// while deliver assembles it, before it gets its name.
//
// An entry is a path relative to the release's app dir (where server.js
// is): ".env.production", "public/uploads/"; a trailing "/" makes it a
// folder. Its home is <root>/shared/<entry>, the same path under shared/.
// The link is relative (../../shared/.env.production from releases/<id>/),
// so it resolves through current and from inside the release alike.

// CheckShared checks one shared entry: a clean path relative to the app
// dir, of the characters a deploy path may have, without "..".
func CheckShared(entry string) error {
	msg := ""
	trimmed := strings.TrimSuffix(entry, "/")
	switch {
	case trimmed == "":
		msg = "empty"
	case strings.HasPrefix(entry, "/") || strings.HasPrefix(entry, "~"):
		msg = "want a path relative to the app's root, like .env.production or public/uploads/"
	case !PathChars.MatchString(entry):
		msg = "want letters, digits, '/', '.', '_', '-' only"
	case slices.Contains(strings.Split(trimmed, "/"), ".."):
		msg = "must not contain '..'"
	case path.Clean(trimmed) != trimmed || trimmed == ".":
		msg = "want a clean path (no ./, // or trailing /.)"
	case trimmed == StateDir || strings.HasPrefix(trimmed, StateDir+"/"):
		msg = "is next-deploy's own state folder in a release"
	}
	if msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	return nil
}

// CheckSharedList checks every entry and that none is given twice or
// inside another (a folder and a file in it cannot both be links).
func CheckSharedList(entries []string) error {
	var errs []error
	for i, e := range entries {
		if err := CheckShared(e); err != nil {
			errs = append(errs, fmt.Errorf("shared %q: %w", e, err))
			continue
		}
		for _, o := range entries[:i] {
			a, b := strings.TrimSuffix(o, "/"), strings.TrimSuffix(e, "/")
			if a == b || strings.HasPrefix(b, a+"/") || strings.HasPrefix(a, b+"/") {
				errs = append(errs, fmt.Errorf("shared %q: %w: overlaps %q", e, ErrInvalid, o))
			}
		}
	}
	return errors.Join(errs...)
}

// SharedFolder reports whether an entry names a folder (a trailing "/").
func SharedFolder(entry string) bool { return strings.HasSuffix(entry, "/") }

// SharedPath is where an entry lives on a host: <root>/shared/<entry>.
func (l Layout) SharedPath(entry string) string {
	return path.Join(l.Root, SharedDir, strings.TrimSuffix(entry, "/"))
}

// sharedLinks are receive.sh's arguments for the entries of a release
// whose app dir is appDir: for each, the link's path in the release and
// its target, relative to the link's folder (releases/<id>/<dir>/), so
// "../" once per folder up to the deploy root.
func sharedLinks(appDir string, entries []string) []string {
	var out []string
	for _, e := range entries {
		e = strings.TrimSuffix(e, "/")
		p := path.Join(appDir, e) // appDir "" or "."
		up := 2                   // releases/<id>/
		if d := path.Dir(p); d != "." {
			up += strings.Count(d, "/") + 1
		}
		out = append(out, p, strings.Repeat("../", up)+SharedDir+"/"+e)
	}
	return out
}

// SharedInArtifact lists the paths of files (a release's file manifest,
// appDir its app dir) that shared entries take the place of: a
// .env.production from the checkout, an uploads/ folder from the build.
// deliver drops them for the links, and says so.
func SharedInArtifact(files Files, appDir string, entries []string) []string {
	var out []string
	for _, e := range entries {
		p := path.Join(appDir, strings.TrimSuffix(e, "/"))
		for _, f := range files {
			if f.Path == p || strings.HasPrefix(f.Path, p+"/") {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
