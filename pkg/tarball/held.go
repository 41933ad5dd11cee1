package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/org/next-deploy/pkg/release"
)

// Hold says which files' content ListHolding keeps in memory: the
// regular files Keep accepts by name and size, at most Max bytes of them
// in all (in archive order; the rest are only hashed, as List does).
type Hold struct {
	Keep func(name string, size int64) bool
	Max  int64
}

// Held is what ListHolding kept of an archive: every entry's header, in
// order, and the content of the files its Hold accepted, by name. A
// delta's payload is made from it (Held.Subset) without reading the
// archive again.
type Held struct {
	entries []heldEntry
	Content map[string][]byte
}

type heldEntry struct {
	name string
	hdr  tar.Header
}

// Holding returns, of the files held, those whose content holds needle.
func (h *Held) Holding(needle []byte) map[string][]byte {
	out := map[string][]byte{}
	if h == nil || len(needle) == 0 {
		return out
	}
	for name, b := range h.Content {
		if bytes.Contains(b, needle) {
			out[name] = b
		}
	}
	return out
}

// ListHolding lists the archive like List and keeps, on the same pass,
// every entry's header and the content of the files h accepts. Contents
// are hashed by another goroutine while the archive is read on
// (hasher): on two cores, decompressing and hashing overlap.
func ListHolding(ctx context.Context, r io.Reader, f release.Format, h Hold) (release.Files, Stats, *Held, error) {
	var files release.Files
	held := &Held{Content: map[string][]byte{}}
	var heldBytes int64
	seen := map[string]bool{}
	hs := newHasher()
	defer hs.stop()
	st, err := walk(ctx, r, f, func(name string, th *tar.Header, content io.Reader) error {
		if h.Keep != nil { // List keeps nothing: no header either
			held.entries = append(held.entries, heldEntry{name: name, hdr: *th})
		}
		e := release.FileEntry{Path: name, Mode: fs.FileMode(th.Mode).Perm(), Data: "-"}
		switch th.Typeflag {
		case tar.TypeDir:
			e.Type = release.TypeDir
		case tar.TypeSymlink:
			e.Type, e.Mode, e.Data = release.TypeSymlink, 0o777, th.Linkname
		default:
			e.Type, e.Size = release.TypeFile, th.Size
			keep := h.Keep != nil && heldBytes+th.Size <= h.Max && h.Keep(name, th.Size)
			b, err := hs.add(len(files), content, th.Size, keep)
			if err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
			if keep {
				held.Content[name] = b
				heldBytes += th.Size
			}
		}
		seen[name] = true
		files = append(files, e)
		return nil
	})
	if err != nil {
		return nil, Stats{}, nil, err
	}
	for i, sum := range hs.wait() {
		files[i].Data = sum
	}
	for _, e := range files {
		for p := path.Dir(e.Path); p != "."; p = path.Dir(p) {
			if !seen[p] {
				seen[p] = true
				files = append(files, release.FileEntry{Path: p, Type: release.TypeDir, Mode: implicitDirMode, Data: "-"})
			}
		}
	}
	files.Sort()
	return files, st, held, nil
}

// Subset writes what Subset writes of the archive h was read from, from
// memory: the same entries, the same bytes. ok is false, and nothing is
// written, when a file keep asks for was not held: read the archive
// (Subset) then.
func (h *Held) Subset(w io.Writer, f release.Format, keep func(name string) bool) (n int, ok bool, err error) {
	if h == nil {
		return 0, false, nil
	}
	for _, e := range h.entries {
		if regular(&e.hdr) && keep(e.name) && h.Content[e.name] == nil && e.hdr.Size > 0 {
			return 0, false, nil
		}
	}
	tw, err := NewWriter(w, f, 0)
	if err != nil {
		return 0, false, err
	}
	for _, e := range h.entries {
		if regular(&e.hdr) && !keep(e.name) {
			continue
		}
		if regular(&e.hdr) {
			n++
		}
		if err := tw.copyEntry(e.name, &e.hdr, bytes.NewReader(h.Content[e.name])); err != nil {
			return 0, false, err
		}
	}
	return n, true, tw.Close()
}

func regular(h *tar.Header) bool { return h.Typeflag != tar.TypeDir && h.Typeflag != tar.TypeSymlink }
