package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// FilesPath is a release's file manifest, inside the release.
const FilesPath = StateDir + "/files.tsv"

// Entry types of a file manifest.
const (
	TypeFile    = 'f'
	TypeDir     = 'd'
	TypeSymlink = 'l'
)

// FileEntry is one path of a release: a line of its file manifest.
type FileEntry struct {
	// Path is relative to the release, without "./" or a trailing "/".
	Path string
	Type byte
	// Mode is the permission bits (0777 for a symlink).
	Mode fs.FileMode
	// Size is a file's size; 0 for directories and symlinks.
	Size int64
	// Data is a file's sha256 (hex) or a symlink's target; "-" for a
	// directory.
	Data string
}

// Files is a release's file manifest: every path with its type, mode, size
// and content hash, sorted by path. It is written beside the artifact by
// pack and kept in each release as .next-deploy/files.tsv; delta delivery
// compares two of them, and every delivered tree is verified against its
// own before it gets its name.
//
// One line per path, five tab-separated fields (six are never needed:
// names and targets hold no control characters, the archive rules refuse
// them):
//
//	path  type  mode  size  data
//	server.js  f  644  6543  <sha256>
//	.next  d  755  0  -
//	node_modules/.bin/next  l  777  0  ../next/dist/bin/next
//
// The mode is octal without a leading zero, as find -printf %m prints it,
// so a server can list a tree in the same form with find, awk and
// sha256sum. Sorted bytewise by path, a tab sorts before any character a
// name may hold, so `LC_ALL=C sort` of the lines gives the same order.
type Files []FileEntry

// Line is the manifest line of e, without the newline.
func (e FileEntry) Line() string {
	return e.Path + "\t" + string(e.Type) + "\t" + strconv.FormatUint(uint64(e.Mode.Perm()), 8) + "\t" +
		strconv.FormatInt(e.Size, 10) + "\t" + e.Data
}

// Marshal returns the manifest's text.
func (f Files) Marshal() []byte {
	var b bytes.Buffer
	for _, e := range f {
		b.WriteString(e.Line())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// SHA256 is the hex sha256 of the manifest's text: a server checks a
// manifest it assembled against it.
func (f Files) SHA256() string {
	s := sha256.Sum256(f.Marshal())
	return hex.EncodeToString(s[:])
}

// Sort orders the entries by path.
func (f Files) Sort() {
	slices.SortFunc(f, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
}

// ParseFiles reads a manifest's text.
func ParseFiles(b []byte) (Files, error) {
	var f Files
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		e, err := parseFileLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("file manifest line %d: %w", n, err)
		}
		if len(f) > 0 && f[len(f)-1].Path >= e.Path {
			return nil, fmt.Errorf("file manifest line %d: %q is out of order or repeated", n, e.Path)
		}
		f = append(f, e)
	}
	return f, sc.Err()
}

func parseFileLine(s string) (FileEntry, error) {
	p := strings.Split(s, "\t")
	if len(p) != 5 || p[0] == "" || len(p[1]) != 1 {
		return FileEntry{}, fmt.Errorf("%q: want path, type, mode, size, data", s)
	}
	mode, err := strconv.ParseUint(p[2], 8, 32)
	if err != nil || mode > 0o777 {
		return FileEntry{}, fmt.Errorf("%q: bad mode %q", s, p[2])
	}
	size, err := strconv.ParseInt(p[3], 10, 64)
	if err != nil || size < 0 {
		return FileEntry{}, fmt.Errorf("%q: bad size %q", s, p[3])
	}
	e := FileEntry{Path: p[0], Type: p[1][0], Mode: fs.FileMode(mode), Size: size, Data: p[4]}
	switch e.Type {
	case TypeFile:
		if len(e.Data) != 64 {
			return FileEntry{}, fmt.Errorf("%q: bad sha256", s)
		}
	case TypeDir, TypeSymlink:
		if size != 0 {
			return FileEntry{}, fmt.Errorf("%q: a %c entry has no size", s, e.Type)
		}
	default:
		return FileEntry{}, fmt.Errorf("%q: unknown type %q", s, p[1])
	}
	return e, nil
}
