package tarball

import (
	"archive/tar"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/standalone"
)

// ErrUnsafe marks an archive entry that would write outside the target,
// through a symlink, or something that is not a plain file, directory or
// symlink. Pack never writes one; an archive holding one was not made by
// pack, or was tampered with.
var ErrUnsafe = errors.New("unsafe archive entry")

// Stats describe an archive's content.
type Stats struct {
	Entries  int   `json:"entries"`
	Files    int   `json:"files"`
	Dirs     int   `json:"dirs"`
	Symlinks int   `json:"symlinks"`
	Unpacked int64 `json:"unpacked_bytes"`
	// AppDir is where server.js is ("." or "apps/web"); "" when the
	// archive holds no server.js outside node_modules, or several at the
	// same depth.
	AppDir string `json:"app_dir,omitempty"`
}

// paxAllowed are the PAX records an entry may carry: the ones Go and GNU
// tar use for long names, sizes and times. Extended attributes, ACLs and
// sparse maps are refused: pack writes none, and xattrs such as
// security.capability would grant privileges when extracted as root.
var paxAllowed = map[string]bool{
	"path": true, "linkpath": true, "size": true, "mtime": true, "atime": true,
	"ctime": true, "uid": true, "gid": true, "uname": true, "gname": true,
}

// kinds of names already seen.
const (
	seenDir      = 'd' // a directory entry
	seenImplicit = 'i' // a parent of an entry, without an entry of its own
	seenFile     = 'f'
	seenLink     = 'l'
)

// Rules applies the rules to an archive's entries in order. Every
// entry must be a directory, a regular file or a symlink; its name
// relative, canonical, without ".." and unique; no entry may lie below a
// symlink or a file; a symlink's target must stay inside the tree. With no
// entry below a symlink, each symlink's directory is a real directory, so
// the target can be resolved by its text alone (see checkLink). Check
// and Extract apply them to an archive, where an entry must also read
// the same to archive/tar and to GNU tar (oneReading); pack applies them
// to a tree's entries before it writes one, so whatever it writes, Check
// accepts.
type Rules struct {
	seen     map[string]byte
	serverJS []string
	stats    Stats
}

// NewRules starts the rules for one archive.
func NewRules() *Rules { return &Rules{seen: map[string]byte{}} }

// Add checks one header and returns the entry's canonical name ("" for
// the archive's root directory, which is skipped). An entry that breaks
// a rule is an ErrUnsafe naming the entry and the rule.
func (v *Rules) Add(h *tar.Header) (string, error) {
	name, err := v.check(h)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrUnsafe, h.Name, err)
	}
	if name == "" {
		return "", nil
	}
	v.stats.Entries++
	switch h.Typeflag {
	case tar.TypeDir:
		v.stats.Dirs++
	case tar.TypeSymlink:
		v.stats.Symlinks++
	default:
		v.stats.Files++
		v.stats.Unpacked += h.Size
		if standalone.IsServerJS(name) {
			v.serverJS = append(v.serverJS, name)
		}
	}
	return name, nil
}

// addRead is Add for an entry read from an archive, with the raw blocks
// archive/tar read it from (traced false: they could not be found).
func (v *Rules) addRead(h *tar.Header, raw rawEntry, traced bool) (string, error) {
	name, err := v.Add(h)
	if err != nil {
		return "", err
	}
	if err := oneReading(h, raw, traced); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrUnsafe, h.Name, err)
	}
	return name, nil
}

func (v *Rules) check(h *tar.Header) (string, error) {
	kind, err := entryKind(h)
	if err != nil {
		return "", err
	}
	for k, val := range h.PAXRecords {
		if !paxAllowed[k] {
			return "", fmt.Errorf("carries the PAX record %q (extended attributes, ACLs and sparse files are refused)", k)
		}
		if val == "" {
			// archive/tar skips an empty record; GNU tar applies an
			// empty path and fails on an empty size or time.
			return "", fmt.Errorf("carries an empty PAX record %q, which tar programs read differently", k)
		}
	}
	if h.Mode&0o7000 != 0 {
		return "", fmt.Errorf("has mode %o: setuid, setgid and sticky bits are refused", h.Mode&0o7777)
	}
	if h.Size < 0 || (kind != seenFile && h.Size != 0) {
		return "", fmt.Errorf("has size %d", h.Size)
	}
	name, err := cleanName(h.Name, kind == seenDir)
	if err != nil || name == "" {
		return name, err
	}
	if name == release.StateDir || strings.HasPrefix(name, release.StateDir+"/") {
		return "", fmt.Errorf("uses %s, which a release keeps for next-deploy's own files", release.StateDir)
	}
	if err := v.place(name, kind); err != nil {
		return "", err
	}
	if kind == seenLink {
		if err := checkLink(name, h.Linkname); err != nil {
			return "", err
		}
	}
	return name, nil
}

func entryKind(h *tar.Header) (byte, error) {
	switch h.Typeflag {
	case tar.TypeDir:
		return seenDir, nil
	case tar.TypeReg, '\x00': // '\x00' is the old spelling of a regular file
		return seenFile, nil
	case tar.TypeSymlink:
		return seenLink, nil
	case tar.TypeLink:
		return 0, errors.New("is a hard link (pack writes none; links are symlinks)")
	case tar.TypeChar, tar.TypeBlock:
		return 0, errors.New("is a device file")
	case tar.TypeFifo:
		return 0, errors.New("is a named pipe")
	case tar.TypeXGlobalHeader:
		return 0, errors.New("is a PAX global header, which would change later entries")
	}
	return 0, fmt.Errorf("has entry type %q, not a file, directory or symlink", h.Typeflag)
}

// cleanName checks an entry's name and returns it without "./" in front
// or "/" behind; "" is the root directory itself.
func cleanName(raw string, dir bool) (string, error) {
	name := strings.TrimPrefix(raw, "./")
	if dir {
		name = strings.TrimSuffix(name, "/")
	}
	switch {
	case name == "" || name == ".":
		if !dir {
			return "", errors.New("names the root but is not a directory")
		}
		return "", nil
	case strings.HasPrefix(name, "/"):
		return "", errors.New("is an absolute path")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errors.New("has control characters in its name")
	case name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
		return "", errors.New("climbs out with '..'")
	case path.Clean(name) != name:
		return "", fmt.Errorf("is not a clean path (want %q)", path.Clean(name))
	}
	return name, nil
}

// place records name and refuses a duplicate, or a name below a file or a
// symlink (writing through a symlink is how archives escape their target).
func (v *Rules) place(name string, kind byte) error {
	if prev, ok := v.seen[name]; ok && !(prev == seenImplicit && kind == seenDir) {
		return errors.New("appears twice, or is both a directory and not")
	}
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		switch v.seen[p] {
		case seenFile:
			return fmt.Errorf("lies below %s, which is a file", p)
		case seenLink:
			return fmt.Errorf("lies below %s, which is a symlink", p)
		case 0:
			v.seen[p] = seenImplicit
		}
	}
	v.seen[name] = kind
	return nil
}

// checkLink checks that a symlink at name stays inside the tree. The
// target is relative; ".." may only lead it (going up from the link's
// directory, which is a real directory, see Rules), then names go
// down. Going down through other symlinks cannot leave the tree: each of
// them obeys the same rule. A ".." after a name could ("a/.." is not where
// "a" was when a is a symlink), so it is refused, like pack refuses it.
func checkLink(name, target string) error {
	switch {
	case target == "":
		return errors.New("is a symlink without a target")
	case strings.HasPrefix(target, "/"):
		return fmt.Errorf("is a symlink to the absolute path %q", target)
	case strings.ContainsFunc(target, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("is a symlink with control characters in its target")
	}
	depth := strings.Count(name, "/") // directories between the root and the link
	down := false
	for c := range strings.SplitSeq(target, "/") {
		switch {
		case c == "" || c == ".":
		case c == "..":
			if down {
				return fmt.Errorf("is a symlink to %q, which climbs with '..' after a name", target)
			}
			if depth--; depth < 0 {
				return fmt.Errorf("is a symlink to %q, outside the tree", target)
			}
		default:
			down = true
		}
	}
	return nil
}

// Stats are the archive's stats once every entry is added.
func (v *Rules) Stats() Stats {
	if dir, err := standalone.PickAppDir(v.serverJS); err == nil {
		v.stats.AppDir = dir
	}
	return v.stats
}

// oneReading refuses an entry whose name or link target tar programs read
// differently: Check reads with archive/tar, the servers unpack with GNU
// tar, and an archive that names one file to the first and another to the
// second passes every rule and then writes what no rule saw. They agree
// on plain headers, not on how the special ones combine: archive/tar
// applies a PAX path record, then a GNU long name ('L') over it; GNU tar
// the long name, then the PAX record over it (the same for 'K' and
// linkpath). archive/tar skips an empty long name, GNU tar applies it;
// archive/tar reads a GNU header whose time fields are not numbers as if
// they held a ustar name prefix (golang.org/issue/12594), GNU tar does
// not; and a star header's prefix is 131 bytes to archive/tar, up to 155
// to GNU tar. So an entry takes its
// name from a GNU long-name header or from a PAX record, never both, and
// the name GNU tar reads from the raw blocks (gnuReading) must be the one
// the rules checked. archive/tar hides the raw blocks; headerLog keeps
// them.
func oneReading(h *tar.Header, raw rawEntry, traced bool) error {
	if !traced {
		return errors.New("could not be traced to its header blocks, so tar programs may read it differently")
	}
	if p, ok := h.PAXRecords["path"]; ok && raw.longName != nil {
		return fmt.Errorf("takes its name from both a GNU long-name header (%q) and a PAX path record (%q): Go's archive/tar reads the first, GNU tar the second", cString(raw.longName), p)
	}
	if p, ok := h.PAXRecords["linkpath"]; ok && raw.longLink != nil {
		return fmt.Errorf("takes its link target from both a GNU long-link header (%q) and a PAX linkpath record (%q): Go's archive/tar reads the first, GNU tar the second", cString(raw.longLink), p)
	}
	name, link := gnuReading(h, raw)
	if name != h.Name {
		return fmt.Errorf("is %q to GNU tar: its headers are read two ways", name)
	}
	if link != h.Linkname {
		return fmt.Errorf("links to %q for Go's archive/tar but to %q for GNU tar: its headers are read two ways", h.Linkname, link)
	}
	return nil
}

// gnuReading is the name and link target GNU tar (list.c, read_header and
// decode_header) gives an entry: the last long name ('L') before it, else
// the header's name behind its prefix when the magic is ustar's; the last
// long link ('K'), else the header's link name; then the PAX records over
// either, empty ones too.
func gnuReading(h *tar.Header, raw rawEntry) (name, link string) {
	switch {
	case raw.longName != nil:
		name = cString(raw.longName)
	case string(raw.block[257:263]) == "ustar\x00" && raw.block[345] != 0:
		name = raw.field(345, 155) + "/" + raw.field(0, 100)
	default:
		name = raw.field(0, 100)
	}
	link = raw.field(157, 100)
	if raw.longLink != nil {
		link = cString(raw.longLink)
	}
	if p, ok := h.PAXRecords["path"]; ok {
		name = p
	}
	if p, ok := h.PAXRecords["linkpath"]; ok {
		link = p
	}
	return name, link
}
