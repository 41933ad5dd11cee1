package tarball

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/mholt/archiver/v4"
	"github.com/ulikunitz/xz"

	"github.com/org/next-deploy/pkg/release"
)

// Levels are the compression levels a format takes and its default; the
// numbers mean what they mean to the zstd, gzip and xz commands.
func Levels(f release.Format) (lo, hi, def int) {
	switch f {
	case release.Zstd:
		// The levels map onto klauspost's four: 1, 2-5 (like zstd -3),
		// 6-9 ("better", like zstd -7), 10+ ("best"); native libraries
		// and compressed media stay at "default" below 19 (binaryLevel);
		// from 10 to 18, text past the first 32 MiB steps down to
		// "better" (bestBudget). Against tar -czf, on the fixture's
		// standalone tree (38 MB, 18.7 MB of it sharp's libvips) 10
		// gives 0.93x the bytes, 7 0.94x, 19 0.87x; on next@15.5.4's
		// package tree (138 MB of JavaScript, maps and types) 10 gives
		// 0.50x, 7 0.52x, 3 0.61x. test/bench/pack prints the times.
		return 1, 22, 10
	case release.Gzip:
		return 1, 9, 6
	case release.Xz:
		return 0, 9, 6
	}
	return 0, 0, 0
}

// CheckLevel checks a --level value for a format; 0 is the default.
func CheckLevel(f release.Format, level int) error {
	lo, hi, _ := Levels(f)
	if level != 0 && (level < lo || level > hi) {
		return fmt.Errorf("compression level %d for %s: want %d to %d", level, f, lo, hi)
	}
	return nil
}

// compressor is the archiver compression for writing f at a level (0:
// the format's default). Every option is fixed, never derived from the
// machine, so that the same tree gives the same bytes on any runner.
func compressor(f release.Format, level int) (archiver.Compressor, error) {
	if err := f.Valid(); err != nil {
		return nil, err
	}
	if err := CheckLevel(f, level); err != nil {
		return nil, err
	}
	if level == 0 {
		_, _, level = Levels(f)
	}
	switch f {
	case release.Zstd:
		return zstdFrames{level: zstd.EncoderLevelFromZstd(level), after: textLevel(level), binary: binaryLevel(level),
			frameSize: ZstdFrameSize, bestSize: bestFrameSize, budget: bestBudget}, nil
	case release.Gzip:
		return archiver.Gz{CompressionLevel: level}, nil
	case release.Xz:
		return xzLevel(level), nil
	}
	return nil, nil // release.Plain
}

// decompressor is the archiver compression for reading f.
func decompressor(f release.Format) (archiver.Decompressor, error) {
	if err := f.Valid(); err != nil {
		return nil, err
	}
	switch f {
	case release.Zstd:
		return archiver.Zstd{}, nil
	case release.Gzip:
		// Multistream stays on: gzip files may hold several members.
		return archiver.Gz{}, nil
	case release.Xz:
		return archiver.Xz{}, nil
	}
	return nil, nil // release.Plain
}

// openReader decompresses r, in format f.
func openReader(f release.Format, r io.Reader) (io.ReadCloser, error) {
	d, err := decompressor(f)
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
