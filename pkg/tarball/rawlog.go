package tarball

import (
	"archive/tar"
	"bytes"
	"strconv"
)

const blockSize = 512

// maxLongName caps what headerLog keeps of a GNU long name or link;
// archive/tar refuses longer ones (its limit is 1 MiB), so only their
// first bytes matter.
const maxLongName = 1 << 20

// rawEntry is what a tar stream held for one entry beyond what
// archive/tar's Header shows: archive/tar applies the GNU long-name and
// long-link headers ('L', 'K') and the PAX header ('x') before an entry
// and hides them, and reads the entry's own header block in its own way.
type rawEntry struct {
	// longName and longLink are the content of the last 'L' and 'K'
	// header before the entry, nil when there was none (an empty one is
	// not nil).
	longName, longLink []byte
	// block is the entry's own header block.
	block []byte
}

// field is a NUL-terminated string field of the header block, as C
// programs such as GNU tar read it.
func (r rawEntry) field(off, size int) string { return cString(r.block[off : off+size]) }

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// headerLog sees every byte archive/tar reads (walk tees the stream into
// it) and keeps the raw blocks of the entry archive/tar returns next. It
// follows the stream by the sizes archive/tar reads: after each entry,
// walk tells it the entry's content size (expect); the special headers
// in between carry their own. When it loses track (a size it cannot
// read, a header it did not see), take says so and the entry is refused:
// an archive the two readings disagree on is not extracted.
type headerLog struct {
	blk    [blockSize]byte
	n      int   // bytes of blk filled
	skip   int64 // content and padding still to pass before the next header
	keep   int64 // of skip, the content bytes that go into into
	into   *[]byte
	cur    rawEntry // special headers since the last entry
	ready  *rawEntry
	early  int64 // bytes seen after an entry's header, before expect
	end    bool
	broken bool
}

func (l *headerLog) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !l.end && !l.broken {
		if l.ready != nil { // between an entry's header and expect
			l.early += int64(len(p))
			break
		}
		if l.skip > 0 {
			k := int(min(l.skip, int64(len(p))))
			if c := int(min(l.keep, int64(k))); c > 0 {
				if len(*l.into) < maxLongName {
					*l.into = append(*l.into, p[:c]...)
				}
				l.keep -= int64(c)
			}
			l.skip -= int64(k)
			p = p[k:]
			continue
		}
		k := copy(l.blk[l.n:], p)
		l.n += k
		p = p[k:]
		if l.n == blockSize {
			l.n = 0
			l.header()
		}
	}
	return n, nil
}

// header reads a complete header block.
func (l *headerLog) header() {
	if l.blk == [blockSize]byte{} {
		l.end = true // the end of the archive, or archive/tar's error
		return
	}
	var size int64
	switch l.blk[156] {
	case tar.TypeGNULongName, tar.TypeGNULongLink, tar.TypeXHeader:
		var ok bool
		if size, ok = parseSize(l.blk[124:136]); !ok {
			l.broken = true
			return
		}
	}
	switch l.blk[156] {
	case tar.TypeGNULongName:
		l.cur.longName = []byte{}
		l.into, l.keep = &l.cur.longName, size
	case tar.TypeGNULongLink:
		l.cur.longLink = []byte{}
		l.into, l.keep = &l.cur.longLink, size
	case tar.TypeXHeader:
		l.into, l.keep = nil, 0
	default: // the entry archive/tar returns
		e := l.cur
		e.block = bytes.Clone(l.blk[:])
		l.ready, l.cur = &e, rawEntry{}
		return
	}
	l.skip = padded(size)
}

// take returns the raw blocks of the entry archive/tar just returned;
// false when the log lost track of the stream.
func (l *headerLog) take() (rawEntry, bool) {
	if l.broken || l.ready == nil {
		return rawEntry{}, false
	}
	return *l.ready, true
}

// expect tells the log the content size of the entry just taken, as
// archive/tar reads it (hdr.Size, 0 for the types without content).
func (l *headerLog) expect(h *tar.Header) {
	size := h.Size
	switch h.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		size = 0
	}
	l.ready = nil
	l.skip, l.keep, l.into = padded(size), 0, nil
	if l.early > l.skip {
		l.broken = true
		return
	}
	l.skip -= l.early
	l.early = 0
}

func padded(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// parseSize reads a header's size field as archive/tar does (its
// parseNumeric): base-256 when the first byte's high bit is set, else
// octal between spaces and NULs, up to a NUL. Negative sizes, which
// archive/tar refuses, are not read.
func parseSize(b []byte) (int64, bool) {
	if b[0]&0x80 != 0 {
		if b[0]&0x40 != 0 {
			return 0, false
		}
		var x uint64
		for i, c := range b {
			if i == 0 {
				c &= 0x7f
			}
			if x>>56 > 0 {
				return 0, false
			}
			x = x<<8 | uint64(c)
		}
		return int64(x), x>>63 == 0
	}
	s := cString(bytes.Trim(b, " \x00"))
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(s, 8, 63)
	return int64(n), err == nil
}
