package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

// Header blocks written by hand, as no tar library writes them:
// archive/tar's Writer never mixes GNU and PAX headers.

const (
	ustarMagic = "ustar\x0000"
	gnuMagic   = "ustar  \x00"
	v7Magic    = "\x00\x00\x00\x00\x00\x00\x00\x00"
)

// rawHdr is one header block.
type rawHdr struct {
	name, link string
	typ        byte
	size       int
	magic      string // ustarMagic when empty
	// at345 is written from offset 345 on: a ustar header's name
	// prefix, a GNU header's time fields.
	at345 string
	star  bool // star's trailer at offset 508
}

func (h rawHdr) block() []byte {
	b := make([]byte, blockSize)
	copy(b[:100], h.name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", h.size))
	copy(b[136:], "00000000000\x00")
	b[156] = h.typ
	copy(b[157:257], h.link)
	if h.magic == "" {
		h.magic = ustarMagic
	}
	copy(b[257:265], h.magic)
	copy(b[345:500], h.at345)
	if h.star {
		copy(b[508:], "tar\x00")
	}
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// with is the header followed by its content.
func (h rawHdr) with(content string) []byte {
	h.size = len(content)
	return append(h.block(), pad([]byte(content))...)
}

func rawFile(name string) []byte { return rawHdr{name: name, typ: tar.TypeReg}.with("x") }
func rawLink(name, link string) []byte {
	return rawHdr{name: name, link: link, typ: tar.TypeSymlink}.block()
}

// gnuLong is a GNU long name ('L') or long link ('K') header, as GNU tar
// writes it.
func gnuLong(typ byte, s string) []byte {
	return rawHdr{name: "././@LongLink", typ: typ, magic: gnuMagic}.with(s + "\x00")
}

// paxHdr is a PAX extended header ('x') with records key, value, ...
func paxHdr(magic string, kv ...string) []byte {
	var recs strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		line := " " + kv[i] + "=" + kv[i+1] + "\n"
		n := len(line) + 1
		for len(strconv.Itoa(n))+len(line) != n {
			n++
		}
		fmt.Fprintf(&recs, "%d%s", n, line)
	}
	return rawHdr{name: "PaxHeaders/x", typ: tar.TypeXHeader, magic: magic}.with(recs.String())
}

// rawArchive is the blocks and the archive's end.
func rawArchive(parts ...[]byte) []byte {
	return append(bytes.Join(parts, nil), make([]byte, 2*blockSize)...)
}

// listed is an entry as a tar program lists it.
type listed struct {
	typ        byte // '-', 'd' or 'l', as in ls -l
	name, link string
}

func (e listed) String() string { return fmt.Sprintf("%c %q -> %q", e.typ, e.name, e.link) }

// ourList is the archive's entries as the rules accept them (walk), or
// the rules' error.
func ourList(data []byte) ([]listed, error) {
	var got []listed
	_, err := walk(context.Background(), bytes.NewReader(data), release.Plain, func(name string, h *tar.Header, _ io.Reader) error {
		e := listed{typ: '-', name: name}
		switch h.Typeflag {
		case tar.TypeDir:
			e.typ = 'd'
		case tar.TypeSymlink:
			e.typ, e.link = 'l', h.Linkname
		}
		got = append(got, e)
		return nil
	})
	return got, err
}

var gnuTarCheck struct {
	once sync.Once
	err  error
}

// needGNUTar says whether GNU tar is the tar on PATH, which the servers
// unpack with; without it the test is skipped, except under CI=true.
func needGNUTar(t testing.TB) bool {
	t.Helper()
	if !needTool(t, "tar") {
		return false
	}
	gnuTarCheck.once.Do(func() {
		out, err := exec.Command("tar", "--version").Output()
		if err == nil && !bytes.Contains(out, []byte("GNU tar")) {
			err = fmt.Errorf("tar is not GNU tar: %.40q", out)
		}
		gnuTarCheck.err = err
	})
	if err := gnuTarCheck.err; err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GNU tar is needed (CI=true): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return true
}

// gnuList lists the archive with GNU tar (tar -tv, names quoted as C
// strings so that every byte comes through), leaving out the root
// directory; names lose a leading "./" and a directory's trailing "/",
// as the rules' names do.
func gnuList(t testing.TB, data []byte) []listed {
	t.Helper()
	cmd := exec.Command("tar", "--quoting-style=c", "-tvf", "-")
	cmd.Stdin = bytes.NewReader(data)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GNU tar refuses an archive the rules accept: %v: %s", err, stderr.Bytes())
	}
	var got []listed
	for line := range strings.Lines(string(out)) {
		e, err := parseListLine(strings.TrimSuffix(line, "\n"))
		if err != nil {
			t.Fatalf("tar -tv line %q: %v", line, err)
		}
		e.name = strings.TrimPrefix(e.name, "./")
		if e.typ == 'd' {
			e.name = strings.TrimSuffix(e.name, "/")
		}
		if e.typ != 'd' || e.name != "" && e.name != "." {
			got = append(got, e)
		}
	}
	return got
}

// parseListLine reads `-rw-r--r-- 0/0 1 1970-01-01 00:00 "name"` and
// `lrwxrwxrwx 0/0 0 1970-01-01 00:00 "name" -> "target"`.
func parseListLine(line string) (listed, error) {
	i := strings.IndexByte(line, '"')
	if line == "" || i < 0 {
		return listed{}, errors.New("no quoted name")
	}
	e := listed{typ: line[0]}
	name, rest, err := cUnquote(line[i:])
	if err != nil {
		return listed{}, err
	}
	e.name = name
	if link, ok := strings.CutPrefix(rest, " -> "); ok {
		if e.link, rest, err = cUnquote(link); err != nil {
			return listed{}, err
		}
	}
	if rest != "" {
		return listed{}, fmt.Errorf("unexpected %q after the name", rest)
	}
	return e, nil
}

// cUnquote reads the C string literal s starts with (GNU tar's
// --quoting-style=c) and returns its bytes and what follows.
func cUnquote(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("%q is not quoted", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if i++; i == len(s) {
			break
		}
		switch c := s[i]; {
		case c >= '0' && c <= '7':
			n, j := 0, i
			for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
				n = n*8 + int(s[j]-'0')
			}
			b.WriteByte(byte(n))
			i = j - 1
		case strings.IndexByte(`abfnrtv`, c) >= 0:
			b.WriteByte("\a\b\f\n\r\t\v"[strings.IndexByte(`abfnrtv`, c)])
		default: // \\, \", \?
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%q is not closed", s)
}
