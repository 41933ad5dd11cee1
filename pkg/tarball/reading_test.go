package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

// readTwoWays are archives whose entries archive/tar and GNU tar name
// differently (issue 13, item 6), with a word the refusal must contain.
var readTwoWays = []struct {
	name string
	data []byte
	want string
}{
	{"long name, then PAX path", rawArchive(gnuLong('L', "gnu.js"), paxHdr(ustarMagic, "path", "pax.js"), rawFile("header.js")), "GNU long-name header"},
	{"PAX path, then long name", rawArchive(paxHdr(ustarMagic, "path", "pax.js"), gnuLong('L', "gnu.js"), rawFile("header.js")), "GNU long-name header"},
	{"long link and PAX linkpath", rawArchive(gnuLong('K', "gnu-target"), paxHdr(ustarMagic, "linkpath", "pax-target"), rawLink("l", "header-target")), "GNU long-link header"},
	// archive/tar skips an empty long name or link; GNU tar applies it.
	{"empty long name", rawArchive(gnuLong('L', ""), rawFile("header.js")), `is "" to GNU tar`},
	{"empty long link", rawArchive(gnuLong('K', ""), rawLink("l", "target")), `but to "" for GNU tar`},
	{"empty PAX path", rawArchive(paxHdr(ustarMagic, "path", ""), rawFile("header.js")), "empty PAX record"},
	// archive/tar reads text in a GNU header's time fields as a ustar
	// prefix (golang.org/issue/12594); GNU tar reads no prefix there.
	{"GNU header with a prefix", rawArchive(rawHdr{name: ".next-deploy/release.json", typ: tar.TypeReg, magic: gnuMagic, at345: "x"}.with("{}")), `is ".next-deploy/release.json" to GNU tar`},
}

// TestRefusesEntriesReadTwoWays guards against an archive that passes
// the rules under one name and is unpacked by the servers' GNU tar under
// another: below a symlink, over release.json, or twice.
func TestRefusesEntriesReadTwoWays(t *testing.T) {
	for _, tc := range readTwoWays {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(context.Background(), bytes.NewReader(tc.data), release.Plain)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want ErrUnsafe saying %q", err, tc.want)
			}
		})
	}
}

// The cases above are real disagreements, not guesses about GNU tar.
func TestArchivesReadTwoWaysDoDisagree(t *testing.T) {
	if !needGNUTar(t) {
		return
	}
	for _, tc := range readTwoWays {
		t.Run(tc.name, func(t *testing.T) {
			var goList []listed
			tr := tar.NewReader(bytes.NewReader(tc.data))
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				e := listed{typ: '-', name: h.Name}
				if h.Typeflag == tar.TypeSymlink {
					e.typ, e.link = 'l', h.Linkname
				}
				goList = append(goList, e)
			}
			gnu := gnuList(t, tc.data)
			if slices.Equal(goList, gnu) {
				t.Errorf("archive/tar and GNU tar agree on %v", gnu)
			}
		})
	}
}

// What tar programs write, long names included, is read one way and
// accepted.
func TestAcceptsEntriesReadOneWay(t *testing.T) {
	long := strings.Repeat("long-directory-name/", 8) + "index.js"
	target := strings.Repeat("t", 120)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"GNU long name", rawArchive(gnuLong('L', long), rawFile("truncated"))},
		{"GNU long link", rawArchive(gnuLong('K', target), rawLink("l", "truncated"))},
		{"PAX path", rawArchive(paxHdr(ustarMagic, "path", long), rawFile("truncated"))},
		{"PAX path over a GNU header", rawArchive(paxHdr(ustarMagic, "path", "p.js"), rawHdr{name: "h.js", typ: tar.TypeReg, magic: gnuMagic}.with("x"))},
		{"two long names, the last wins", rawArchive(gnuLong('L', "first.js"), gnuLong('L', "second.js"), rawFile("h.js"))},
		{"ustar prefix", rawArchive(rawHdr{name: "index.js", typ: tar.TypeReg, at345: "a/b"}.with("x"))},
		{"old V7 header", rawArchive(rawHdr{name: "v7.js", typ: tar.TypeReg, magic: v7Magic}.with("x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ourList(tc.data)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if needGNUTar(t) {
				if want := gnuList(t, tc.data); !slices.Equal(got, want) {
					t.Errorf("the rules list %v, GNU tar %v", got, want)
				}
			}
		})
	}
}

// GNU tar's own archives, in its default (gnu) format and in posix, with
// a name and a symlink target longer than a header holds, are accepted
// and listed alike.
func TestAcceptsWhatGNUTarWrites(t *testing.T) {
	if !needGNUTar(t) {
		return
	}
	src := t.TempDir()
	long := filepath.Join(strings.Repeat("long-directory-name/", 6), "naïve-ünïcode.js")
	must(t, os.MkdirAll(filepath.Join(src, filepath.Dir(long)), 0o755))
	must(t, os.WriteFile(filepath.Join(src, long), []byte("x"), 0o644))
	must(t, os.Symlink(long, filepath.Join(src, "link")))
	for _, format := range []string{"gnu", "posix", "ustar"} {
		t.Run(format, func(t *testing.T) {
			out, err := exec.Command("tar", "--format="+format, "-C", src, "-cf", "-", ".").Output()
			if format == "ustar" {
				// ustar cannot hold the link target: GNU tar says so and
				// leaves the link out.
				err = nil
			}
			must(t, err)
			got, err := ourList(out)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if want := gnuList(t, out); !slices.Equal(got, want) {
				t.Errorf("the rules list %v, GNU tar %v", got, want)
			}
		})
	}
}

// FuzzGNUTarListsWhatRulesAccept builds archives from fuzzed names and
// mixes of header kinds (GNU long names and links, PAX records, ustar
// prefixes, GNU, V7 and star headers, in either order) and, for every
// archive the rules accept, lists it with the real GNU tar, which the
// servers unpack with: both listings must be the same, entry for entry
// (type, name, link target). A plain go test runs the seeds below.
//
//	go test ./pkg/tarball -run '^$' -fuzz FuzzGNUTarListsWhatRulesAccept -fuzztime 5m
func FuzzGNUTarListsWhatRulesAccept(f *testing.F) {
	// spec: two bytes per entry, see mixedArchive.
	f.Add([]byte{0x0c, 0x00}, "header.js", "gnu.js", "pax.js", "target")                  // long name + PAX path
	f.Add([]byte{0x1c, 0x00}, "header.js", "gnu.js", "pax.js", "target")                  // the same, PAX first
	f.Add([]byte{0x62, 0x00}, "l", "gnu", "pax", "target")                                // long link + PAX linkpath
	f.Add([]byte{0x04, 0x00}, "header.js", "", "", "")                                    // empty long name
	f.Add([]byte{0x00, 0x03}, ".next-deploy/x", "dir", "", "")                            // GNU header with a prefix
	f.Add([]byte{0x00, 0x01, 0x01, 0x02}, "index.js", "a/b", "", "")                      // ustar prefix, then GNU header
	f.Add([]byte{0x05, 0x00, 0x02, 0x00}, "dir", strings.Repeat("d", 120), "", "x")       // long dir name, symlink
	f.Add([]byte{0x08, 0x08, 0x22, 0x00}, "a.js", "", "p/a.js", "p")                      // PAX path in a GNU-magic x header
	f.Add([]byte{0x00, 0x05}, "n.js", strings.Repeat("p", 131)+"00000000000\x00", "", "") // star header, prefix into its times
	f.Add([]byte{0x84, 0x10}, "h.js", "long.js", "", "")                                  // two long names, ustar-magic L
	f.Fuzz(func(t *testing.T, spec []byte, name, long, pax, link string) {
		data := mixedArchive(spec, name, long, pax, link)
		got, err := ourList(data)
		if err != nil || !needGNUTar(t) {
			return // refused: nothing is unpacked
		}
		if want := gnuList(t, data); !slices.Equal(got, want) {
			t.Fatalf("the rules accept an archive GNU tar lists differently:\nrules:   %v\nGNU tar: %v", got, want)
		}
	})
}

// mixedArchive writes up to four entries, each from two bytes of spec:
//
//	spec[0] bits 0-1  kind: file, directory, symlink, old-style file ('\x00')
//	        bit 2     a GNU long name ('L') of long
//	        bit 3     a PAX header with path=pax
//	        bit 4     the PAX header before the long name
//	        bit 5     a GNU long link ('K') of link
//	        bit 6     linkpath=pax in the PAX header (there is one then)
//	        bit 7     a second long name, long+"2", before the entry
//	spec[1] bits 0-2  the entry's header: ustar, ustar with long as prefix,
//	                  GNU, GNU with long in its time fields, V7, star with
//	                  long as prefix (6, 7: ustar)
//	        bit 3     the PAX header has GNU's magic
//	        bit 4     the long name header has ustar's magic
//
// Entries after the first get their index after every string, so that
// they do not repeat a name.
func mixedArchive(spec []byte, name, long, pax, link string) []byte {
	var parts [][]byte
	for i := 0; i+1 < len(spec) && i < 8; i += 2 {
		a, b := spec[i], spec[i+1]
		sfx := ""
		if i > 0 {
			sfx = fmt.Sprint(i / 2)
		}
		n, l, p, k := name+sfx, long+sfx, pax+sfx, link+sfx
		longHdr := func(typ byte, s string) []byte {
			h := rawHdr{name: "././@LongLink", typ: typ, magic: gnuMagic}
			if b&0x10 != 0 {
				h.magic = ustarMagic
			}
			return h.with(s + "\x00")
		}
		var kv []string
		if a&0x08 != 0 {
			kv = append(kv, "path", p)
		}
		if a&0x40 != 0 {
			kv = append(kv, "linkpath", p)
		}
		var paxPart, longPart []byte
		if kv != nil {
			paxPart = paxHdr(map[bool]string{false: ustarMagic, true: gnuMagic}[b&0x08 != 0], kv...)
		}
		if a&0x04 != 0 {
			longPart = longHdr(tar.TypeGNULongName, l)
		}
		if a&0x10 != 0 {
			parts = append(parts, paxPart, longPart)
		} else {
			parts = append(parts, longPart, paxPart)
		}
		if a&0x20 != 0 {
			parts = append(parts, longHdr(tar.TypeGNULongLink, k))
		}
		if a&0x80 != 0 {
			parts = append(parts, longHdr(tar.TypeGNULongName, l+"2"))
		}
		h := rawHdr{name: n, typ: []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, 0}[a&3]}
		if h.typ == tar.TypeSymlink {
			h.link = k
		}
		switch b & 7 {
		case 1:
			h.at345 = l
		case 2:
			h.magic = gnuMagic
		case 3:
			h.magic, h.at345 = gnuMagic, l
		case 4:
			h.magic = v7Magic
		case 5:
			h.at345, h.star = l, true
		}
		if h.typ == tar.TypeReg || h.typ == 0 {
			parts = append(parts, h.with("x"))
		} else {
			parts = append(parts, h.block())
		}
	}
	return rawArchive(parts...)
}
