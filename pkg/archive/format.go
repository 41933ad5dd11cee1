package archive

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/mholt/archiver/v4"
	"github.com/ulikunitz/xz"
)

// Format is an artifact's compression: "zst", "gz", "xz", or "tar" for an
// uncompressed tarball (tests, and piping into another compressor).
type Format string

// Formats.
const (
	Zstd  Format = "zst"
	Gzip  Format = "gz"
	Xz    Format = "xz"
	Plain Format = "tar"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Zstd, Gzip, Xz, Plain:
		return f, nil
	}
	return "", fmt.Errorf("archive format %q: want zst, gz or xz", s)
}

// Ext is the file name extension: ".tar.zst".
func (f Format) Ext() string {
	if f == Plain {
		return ".tar"
	}
	return ".tar." + string(f)
}

// Levels are the compression levels a format takes and its default; the
// numbers mean what they mean to the zstd, gzip and xz commands.
func (f Format) Levels() (lo, hi, def int) {
	switch f {
	case Zstd:
		// The levels map onto klauspost's four: 1, 2-5 (like zstd -3),
		// 6-9 ("better", like zstd -7), 10+ ("best"); native libraries
		// and compressed media stay at "default" below 19 (binaryLevel).
		// On the fixture's standalone tree (38 MB, 18.7 MB of it
		// sharp's libvips), against tar -czf: 10 gives 0.93x the bytes
		// in 0.57-0.69x the time, 7 0.95x in 0.31-0.58x (4 MiB frames
		// all at "better" were 0.95x in 0.36-0.74x), 19 0.88x in
		// 1.4-2.3x. Without the native libraries, 10 is 0.69x the bytes
		// of tar -czf but about 1.9x its time, 7 0.75x in 1.0x.
		return 1, 22, 10
	case Gzip:
		return 1, 9, 6
	case Xz:
		return 0, 9, 6
	}
	return 0, 0, 0
}

// CheckLevel checks a --level value; 0 is the default.
func (f Format) CheckLevel(level int) error {
	lo, hi, _ := f.Levels()
	if level != 0 && (level < lo || level > hi) {
		return fmt.Errorf("compression level %d for %s: want %d to %d", level, f, lo, hi)
	}
	return nil
}

// compressor is the archiver compression for writing at a level (0: the
// format's default). Every option is fixed, never derived from the
// machine, so that the same tree gives the same bytes on any runner.
func (f Format) compressor(level int) (archiver.Compressor, error) {
	if err := f.CheckLevel(level); err != nil {
		return nil, err
	}
	if level == 0 {
		_, _, level = f.Levels()
	}
	switch f {
	case Zstd:
		return zstdFrames{level: zstd.EncoderLevelFromZstd(level), binary: binaryLevel(level), frameSize: frameSize}, nil
	case Gzip:
		return archiver.Gz{CompressionLevel: level}, nil
	case Xz:
		return xzLevel(level), nil
	case Plain:
		return nil, nil
	}
	return nil, fmt.Errorf("archive format %q: want zst, gz or xz", f)
}

// decompressor is the archiver compression for reading.
func (f Format) decompressor() (archiver.Decompressor, error) {
	switch f {
	case Zstd:
		return archiver.Zstd{}, nil
	case Gzip:
		// Multistream stays on: gzip files may hold several members.
		return archiver.Gz{}, nil
	case Xz:
		return archiver.Xz{}, nil
	case Plain:
		return nil, nil
	}
	return nil, fmt.Errorf("archive format %q: want zst, gz or xz", f)
}

// openReader decompresses r.
func (f Format) openReader(r io.Reader) (io.ReadCloser, error) {
	d, err := f.decompressor()
	if err != nil {
		return nil, err
	}
	if d == nil {
		return io.NopCloser(r), nil
	}
	rc, err := d.OpenReader(r)
	if err != nil {
		return nil, fmt.Errorf("read %s stream: %w", f, err)
	}
	return rc, nil
}

// xzLevel writes xz at a level: archiver.Xz has no level, so the
// dictionary sizes of the xz command's presets are used.
type xzLevel int

var xzDict = [...]int{256 << 10, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 8 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20}

func (l xzLevel) OpenWriter(w io.Writer) (io.WriteCloser, error) {
	return xz.WriterConfig{DictCap: xzDict[l]}.NewWriter(w)
}
