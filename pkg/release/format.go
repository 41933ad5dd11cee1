package release

import (
	"fmt"
	"strings"
)

// Format is an artifact's compression: "zst", "gz", "xz", or "tar" for an
// uncompressed tarball (tests, and piping into another compressor). It is
// the one definition shared by pack (which writes it), deliver (which
// reads it from the artifact's name) and the server (which needs its
// program to unpack it).
type Format string

// Formats.
const (
	Zstd  Format = "zst"
	Gzip  Format = "gz"
	Xz    Format = "xz"
	Plain Format = "tar"
)

// formats are all of them, in the order an artifact's name is matched.
var formats = []Format{Zstd, Gzip, Xz, Plain}

// ParseFormat checks a format's name.
func ParseFormat(s string) (Format, error) {
	f := Format(s)
	if f.Tool() == "" {
		return "", fmt.Errorf("%w: archive format %q: want zst, gz or xz", ErrInvalid, s)
	}
	return f, nil
}

// Valid checks a format, as ParseFormat checks its name.
func (f Format) Valid() error {
	_, err := ParseFormat(string(f))
	return err
}

// Ext is the artifact's file name extension: ".tar.zst".
func (f Format) Ext() string {
	if f == Plain {
		return ".tar"
	}
	return ".tar." + string(f)
}

// Tool is the program a server's tar needs to unpack the format (the
// delivery's preflight checks that it is installed); "" for an unknown
// format.
func (f Format) Tool() string {
	switch f {
	case Zstd:
		return "zstd"
	case Gzip:
		return "gzip"
	case Xz:
		return "xz"
	case Plain:
		return "tar"
	}
	return ""
}

// SplitArtifactName splits an artifact's file name as pack writes it,
// <release><Ext>: "r1.tar.zst" is "r1" in Zstd. ok is false for a name
// that ends in no format's extension; the id is not checked.
func SplitArtifactName(name string) (id string, f Format, ok bool) {
	for _, f := range formats {
		if stem, ok := strings.CutSuffix(name, f.Ext()); ok {
			return stem, f, true
		}
	}
	return "", "", false
}
