package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

// entry is one header of a tarball built in memory.
type entry struct {
	name, link string
	typ        byte
	mode       int64
	body       string
	pax        map[string]string
}

func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func file(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, mode: 0o644, body: body}
}
func symlink(name, link string) entry {
	return entry{name: name, link: link, typ: tar.TypeSymlink, mode: 0o777}
}

// tarOf writes entries as an uncompressed tar, as a hostile packer
// would: names and targets exactly as given.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), PAXRecords: e.pax}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostile are archives that must be refused, each with a word the error
// must contain.
var hostile = []struct {
	name    string
	entries []entry
	want    string
}{
	{"absolute path", []entry{file("/etc/cron.d/x", "boom")}, "absolute"},
	{"dot dot", []entry{file("../x", "boom")}, "'..'"},
	{"dot dot inside", []entry{file("a/../../x", "boom")}, "'..'"},
	{"dot dot at end", []entry{dir("a/..")}, "'..'"},
	{"unclean name", []entry{file("a//b", "x")}, "clean"},
	{"dot component", []entry{file("a/./b", "x")}, "clean"},
	{"control character", []entry{file("a\nb", "x")}, "control"},
	{"control character in target", []entry{symlink("l", "a\tb")}, "control"},
	{"release state dir", []entry{dir(".next-deploy"), file(".next-deploy/release.json", "{}")}, "next-deploy's own"},
	{"symlink escapes", []entry{symlink("l", "../outside")}, "outside the tree"},
	{"nested symlink escapes", []entry{dir("a"), symlink("a/l", "../../x")}, "outside the tree"},
	{"absolute symlink", []entry{symlink("l", "/etc")}, "absolute"},
	{"write through symlink", []entry{symlink("l", "."), file("l/x", "boom")}, "below l, which is a symlink"},
	// x/l -> .. is the root, inside; x/l/up -> .. would then be the
	// root's parent: refused because it lies below a symlink.
	{"symlink chain", []entry{dir("x"), symlink("x/l", ".."), symlink("x/l/up", "..")}, "which is a symlink"},
	// s -> . is the root; a -> s/.. reads as the root, but is its parent.
	{"dot dot after symlink", []entry{symlink("s", "."), symlink("a", "s/..")}, "after a name"},
	{"symlink over implicit dir", []entry{file("a/b", "x"), symlink("a", "/tmp")}, "twice"},
	{"file then below it", []entry{file("a", "x"), file("a/b", "y")}, "which is a file"},
	{"duplicate", []entry{file("a", "x"), file("a", "y")}, "twice"},
	{"hard link", []entry{{name: "h", link: "/etc/shadow", typ: tar.TypeLink}}, "hard link"},
	{"char device", []entry{{name: "tty", typ: tar.TypeChar, mode: 0o666}}, "device"},
	{"block device", []entry{{name: "sda", typ: tar.TypeBlock, mode: 0o666}}, "device"},
	{"fifo", []entry{{name: "p", typ: tar.TypeFifo, mode: 0o644}}, "pipe"},
	{"setuid", []entry{{name: "su", typ: tar.TypeReg, mode: 0o4755, body: "x"}}, "setuid"},
	{"xattr", []entry{{name: "cap", typ: tar.TypeReg, mode: 0o755, body: "x", pax: map[string]string{"SCHILY.xattr.security.capability": "x"}}}, "PAX record"},
	{"root as file", []entry{file(".", "x")}, "root"},
}

func TestCheckRefusesHostileArchives(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(context.Background(), bytes.NewReader(tarOf(t, tc.entries...)), release.Plain)
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("Check = %v, want ErrUnsafe", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestExtractRefusesHostileArchivesWritingNothingOutside(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			_, err := Extract(context.Background(), bytes.NewReader(tarOf(t, tc.entries...)), release.Plain, dest)
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("Extract = %v, want ErrUnsafe", err)
			}
			if names := dirNames(t, parent); len(names) != 1 || names[0] != "dest" {
				t.Errorf("%s holds %q, want only dest", parent, names)
			}
		})
	}
}

// sparseTarball is a GNU PAX 1.0 sparse file that unpacks to a terabyte
// of zeros from a few bytes: extracting it would fill the disk. Go's
// tar.Writer cannot write one, so the blocks are made by hand.
func sparseTarball() []byte {
	records := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "big"}, {"GNU.sparse.realsize", "1099511627776"}} {
		line := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(line) + 1
		for len(fmt.Sprint(n))+len(line) != n {
			n++
		}
		records += fmt.Sprint(n) + line
	}
	data := "1\n1099511627775\n1\n"
	var buf bytes.Buffer
	buf.Write(rawHeader("PaxHeaders/big", 'x', len(records)))
	buf.Write(pad([]byte(records)))
	buf.Write(rawHeader("GNUSparseFile.0/big", '0', 512+1))
	buf.Write(pad([]byte(data)))
	buf.Write(pad([]byte("x")))
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

func rawHeader(name string, typ byte, size int) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func pad(b []byte) []byte {
	return append(b, make([]byte, (512-len(b)%512)%512)...)
}

func TestRefusesSparseFiles(t *testing.T) {
	data := sparseTarball()
	// Without the rules, Go's reader sees a terabyte.
	h, err := tar.NewReader(bytes.NewReader(data)).Next()
	if err != nil || h.Size != 1<<40 {
		t.Fatalf("the test's tarball is not a sparse terabyte: %v, %+v", err, h)
	}
	if _, err := Check(context.Background(), bytes.NewReader(data), release.Plain); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "GNU.sparse") {
		t.Errorf("Check = %v, want ErrUnsafe naming the GNU.sparse record", err)
	}
	if _, err := Extract(context.Background(), bytes.NewReader(data), release.Plain, filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrUnsafe) {
		t.Errorf("Extract = %v, want ErrUnsafe", err)
	}
}

func TestCheckAcceptsWhatPackWrites(t *testing.T) {
	data := tarOf(t,
		dir("./"),
		dir("./.next/"),
		file("./.next/BUILD_ID", "r1"),
		file("./server.js", "require('next')"),
		dir("node_modules/.pnpm/foo@1.0.0/node_modules/foo"),
		file("node_modules/.pnpm/foo@1.0.0/node_modules/foo/index.js", "x"),
		// pnpm: node_modules/foo -> .pnpm/foo@1.0.0/node_modules/foo
		symlink("node_modules/foo", ".pnpm/foo@1.0.0/node_modules/foo"),
		// and links back up: ../../bar@2/node_modules/bar
		symlink("node_modules/.pnpm/foo@1.0.0/node_modules/bar", "../../bar@2/node_modules/bar"),
		symlink("root-link", "./"),
		file("apps/web/node_modules/x/server.js", "not the app"),
	)
	st, err := Check(context.Background(), bytes.NewReader(data), release.Plain)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Entries: 9, Files: 4, Dirs: 2, Symlinks: 3, Unpacked: 2 + 15 + 1 + 11, AppDir: "."}
	if st != want {
		t.Errorf("Check = %+v, want %+v", st, want)
	}
}

func TestCheckFailsOnTruncatedOrCorruptStreams(t *testing.T) {
	for _, f := range []release.Format{release.Zstd, release.Gzip, release.Xz} {
		data := compressed(t, f, file("server.js", "require('next')"), noise("lib/libvips.so", 256<<10))
		if _, err := Check(context.Background(), bytes.NewReader(data), f); err != nil {
			t.Fatalf("%s: the undamaged stream: %v", f, err)
		}
		for name, b := range map[string][]byte{
			"truncated": data[:len(data)/2],
			"corrupt":   flipByte(data, len(data)/2),
		} {
			t.Run(string(f)+"/"+name, func(t *testing.T) {
				if _, err := Check(context.Background(), bytes.NewReader(b), f); err == nil {
					t.Error("Check accepted a damaged artifact")
				}
			})
		}
	}
}

// noise is a file of n incompressible bytes, the same on every run.
func noise(name string, n int) entry {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return file(name, string(b))
}

// compressed writes entries through Writer in format f at its default
// level, as pack does.
func compressed(t testing.TB, f release.Format, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, f, 0)
	must(t, err)
	for _, e := range entries {
		must(t, w.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body))}))
		_, err := w.Write([]byte(e.body))
		must(t, err)
	}
	must(t, w.Close())
	return buf.Bytes()
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}
