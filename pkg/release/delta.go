package release

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Base is a release on a host that a delta can be assembled from, as the
// host described it (base.sh): every path of its file manifest with its
// type, mode and the first shortHash hex digits of each file's sha256
// (enough to tell what changed; the host verifies the assembled tree
// against full hashes and sizes).
type Base struct {
	ID string
	// Bytes is what the host sent to describe it.
	Bytes int64
	lines map[string]baseLine
}

// baseLine is one path of a base: "type\tmode\tdata".
type baseLine struct{ line string }

// data is the line's data: a file's short hash, a symlink's target.
func (l baseLine) data() string {
	_, d, _ := strings.Cut(l.line[min(2, len(l.line)):], "\t")
	return d
}

// shortHash is how many hex digits of a file's sha256 a base listing
// carries: it only has to tell a changed file from the same path's old
// one. If two ever agree by chance, the assembled tree fails the host's
// verification against full hashes and the host gets the whole artifact.
const shortHash = 6

// parseBase reads delta_base's answer (base.sh).
func parseBase(out []byte, host string) (*Base, error) {
	head, rest, _ := bytes.Cut(out, []byte("\n"))
	if string(head) == "NONE" {
		return nil, nil
	}
	bid, ok := strings.CutPrefix(string(head), "BASE\t")
	if !ok || ValidID(bid) != nil {
		return nil, fmt.Errorf("find a delta base on %s: unexpected answer %q", host, head)
	}
	b := &Base{ID: bid, Bytes: int64(len(out)), lines: map[string]baseLine{}}
	bad := func(err error) (*Base, error) {
		return nil, fmt.Errorf("find a delta base on %s: listing of %s: %w", host, bid, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(rest))
	if err != nil {
		return bad(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return bad(err)
	}
	if b.lines, err = parseListing(string(text)); err != nil {
		return bad(err)
	}
	return b, nil
}

// parseListing reads a base's listing (base.sh): the number of paths,
// the paths front-coded, their types and modes, then the data of every
// file and symlink.
func parseListing(text string) (map[string]baseLine, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	n, err := strconv.Atoi(lines[0])
	if err != nil || n < 0 || 1+2*n > len(lines) {
		return nil, fmt.Errorf("bad count %q of %d lines", lines[0], len(lines))
	}
	paths, tms, data := lines[1:1+n], lines[1+n:1+2*n], lines[1+2*n:]
	out := make(map[string]baseLine, n)
	prev := ""
	for i, pl := range paths {
		k, suffix, ok := strings.Cut(pl, "\t")
		shared, err := strconv.Atoi(k)
		if !ok || err != nil || shared < 0 || shared > len(prev) || len(tms[i]) < 2 {
			return nil, fmt.Errorf("bad line %q", pl)
		}
		p := prev[:shared] + suffix
		prev = p
		bl := baseLine{line: tms[i][:1] + "\t" + tms[i][1:] + "\t-"}
		if t := tms[i][0]; t == TypeFile || t == TypeSymlink {
			if len(data) == 0 {
				return nil, fmt.Errorf("no data for %q", p)
			}
			d := data[0]
			data = data[1:]
			bl.line = tms[i][:1] + "\t" + tms[i][1:] + "\t" + d
		}
		out[p] = bl
	}
	if len(data) > 0 {
		return nil, fmt.Errorf("%d lines of data too many", len(data))
	}
	return out, nil
}

// short is e as a base listing has it (base.sh), less its path.
func short(e FileEntry) string {
	data := e.Data
	if e.Type == TypeFile {
		data = data[:min(shortHash, len(data))]
	}
	return string(e.Type) + "\t" + strconv.FormatUint(uint64(e.Mode.Perm()), 8) + "\t" + data
}

// Delta is what a host needs beyond its base to assemble a release.
type Delta struct {
	// Edit goes with the upload (Upload.Edit).
	Edit []byte
	// Send are the files to send (the rest come from the base).
	Send map[string]bool
	// Derive lists ("mode\tpath" lines) the files the host makes from
	// the base's by replacing the base's id with the release's: every
	// release is built with its id in its asset prefix and build id
	// (/<release>/_next/...), so many files of a new release are a file
	// of the base with the id replaced. They are not sent; the host's
	// verification against full hashes covers them like any other file.
	// Derived counts them.
	Derive  []byte
	Derived int
}

// Plan compares a release's file manifest with the base. A changed file
// that is the base's with the new id in place of the base's (h tells,
// Holding.derives) is made on the host (Delta.Derive), not sent.
func (b *Base) Plan(files Files, h Holding) *Delta {
	d := &Delta{Send: map[string]bool{}}
	var edit, derive bytes.Buffer
	seen := make(map[string]bool, len(files))
	for _, e := range files {
		seen[e.Path] = true
		old, had := b.lines[e.Path]
		if had && old.line == short(e) {
			continue
		}
		edit.WriteString(e.Line())
		edit.WriteByte('\n')
		switch {
		case e.Type != TypeFile:
		case had && old.line[0] == TypeFile && h.derives(e.Path, b.ID, old.data()):
			d.Derived++
			fmt.Fprintf(&derive, "%o\t%s\n", e.Mode.Perm(), e.Path)
		default:
			d.Send[e.Path] = true
		}
	}
	var gone []string
	for p := range b.lines {
		if !seen[p] {
			gone = append(gone, p)
		}
	}
	slices.Sort(gone)
	for _, p := range gone {
		edit.WriteString(p + "\t-\n")
	}
	d.Edit, d.Derive = edit.Bytes(), derive.Bytes()
	return d
}
