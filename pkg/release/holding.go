package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
)

// Holding are the files of a release that hold its id, with their
// content, by path (deliver.Inspect keeps them as it reads the
// artifact). Every release is built with its id in its asset prefix and
// build id (/<release>/_next/...), so many files of a new release are a
// file of the base with the id replaced: the host makes them from the
// base's (receive-assemble.sh: sed s/base/id/g) instead of receiving
// them. The runner decides which, from the base's short hashes alone: the
// host does no work to describe its base beyond its file manifest.
type Holding struct {
	ID      string
	Content map[string][]byte
}

// HoldMax is the most content of Derivable files Inspect keeps in
// memory (a delta's payload is made from it, and Holding's files are
// among it); past it, a file that holds the id is sent, not derived, and
// a payload is read from the artifact again.
const HoldMax = 192 << 20

// Derivable says whether the host may make the file at path p (of a
// release's tree) from its base's by replacing the id: a package under
// node_modules never holds a release id, and the state dir is the
// host's own.
func Derivable(p string) bool {
	if p == StateDir || strings.HasPrefix(p, StateDir+"/") {
		return false
	}
	for p != "." && p != "/" && p != "" {
		if path.Base(p) == "node_modules" {
			return false
		}
		p = path.Dir(p)
	}
	return true
}

// derives says whether the file at p is the base's file with the id in
// place of base's: the content with base's id in place of the id has the
// base file's short hash, and the host's replacement (every base id by
// the id, left to right, as sed's s///g does) gives the content back. A
// short hash that agrees by chance fails the host's verification (every
// derived file is hashed there) and the host gets the whole artifact.
func (h Holding) derives(p, base, short string) bool {
	c, ok := h.Content[p]
	if !ok || h.ID == "" || !bytes.Contains(c, []byte(h.ID)) || base == "" || base == h.ID || short == "" || !Derivable(p) {
		return false
	}
	id, old := []byte(h.ID), []byte(base)
	was := bytes.ReplaceAll(c, id, old)
	if !bytes.Equal(bytes.ReplaceAll(was, old, id), c) {
		return false
	}
	sum := sha256.Sum256(was)
	return strings.HasPrefix(hex.EncodeToString(sum[:]), short)
}
