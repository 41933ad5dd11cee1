package tarball

import (
	"io"
	"path"
	"runtime"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// zstdFrames writes zstd as a series of independent frames of at most
// ZstdFrameSize input bytes each, compressed on every core at once. One zstd
// stream compresses on one core; a runner has several, and pack's time is
// on every deploy's critical path. The bytes depend only on the input, the
// levels and ZstdFrameSize, never on the number of cores: a frame ends every
// ZstdFrameSize bytes, or where the level changes (see binaryLevel), however
// many are in flight, so the artifact stays reproducible across runners.
// zstd, GNU tar and every decoder read concatenated frames as one stream
// (the zstd command's -T does the same).
type zstdFrames struct {
	level zstd.EncoderLevel
	// binary is the level of the files binaryFile picks.
	binary    zstd.EncoderLevel
	frameSize int
}

// ZstdFrameSize is the input bytes of one zstd frame (see zstdFrames):
// large enough that each frame's window finds most of what a window of
// the whole stream would, small enough to give two cores work on a 40 MB
// tree. On the fixture's 20 MB of JavaScript and JSON at "best", 4 MiB
// frames give 2.67 MB, 8 MiB 2.58 MB, one 20 MB frame 2.53 MB. Changing
// it changes every artifact's bytes (pack's golden test).
const ZstdFrameSize = 8 << 20

// binaryLevel is the level for native libraries and already compressed
// files. Their bytes barely shrink with effort, and in a Next standalone
// tree they are half the bytes (sharp's libvips-cpp.so alone is 18.7 MB):
// on that .so, klauspost's "default" gives 8.31 MB in 0.2 s of CPU,
// "better" 8.22 MB in 1.4 s, "best" 7.70 MB in 3.3 s, while the same
// "best" makes the JavaScript 18% smaller than "default" in 1.2 s. So
// binaries get "default" unless the level is the zstd command's 19 or
// more, which asks for the smallest artifact whatever it costs.
func binaryLevel(level int) zstd.EncoderLevel {
	if level >= 19 {
		return zstd.EncoderLevelFromZstd(level)
	}
	return min(zstd.EncoderLevelFromZstd(level), zstd.SpeedDefault)
}

// binaryMin is the size from which a binary file gets frames of its own at
// binaryLevel: smaller ones are not worth cutting the text's frames.
const binaryMin = 128 << 10

// binaryExt are the extensions of files that compress little: native code
// and formats that are compressed already.
var binaryExt = map[string]bool{
	".node": true, ".so": true, ".dll": true, ".dylib": true,
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".avif": true,
	".woff": true, ".woff2": true, ".mp4": true, ".webm": true, ".mp3": true,
	".gz": true, ".br": true, ".zst": true, ".zip": true, ".xz": true,
}

// binaryFile says whether the file of that name and size gets
// binaryLevel: by name only, so the choice is the same on every runner.
// Versioned shared objects (libvips-cpp.so.8.18.7) count as .so.
func binaryFile(name string, size int64) bool {
	if size < binaryMin {
		return false
	}
	base := path.Base(name)
	if i := strings.Index(base, ".so."); i > 0 && strings.Trim(base[i+4:], "0123456789.") == "" {
		return true
	}
	return binaryExt[strings.ToLower(path.Ext(base))]
}

func (z zstdFrames) OpenWriter(w io.Writer) (io.WriteCloser, error) {
	workers := runtime.GOMAXPROCS(0)
	f := &framesWriter{w: w, size: z.frameSize, workers: workers, level: z.level, text: z.level, binary: z.binary, encs: map[zstd.EncoderLevel]*zstd.Encoder{}}
	for _, l := range []zstd.EncoderLevel{z.level, z.binary} {
		if f.encs[l] != nil {
			continue
		}
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(l),
			zstd.WithEncoderCRC(true),
			zstd.WithEncoderConcurrency(workers),
			zstd.WithWindowSize(windowFor(z.frameSize)),
		)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.encs[l] = enc
	}
	return f, nil
}

// windowFor is the smallest valid window that holds a whole frame.
func windowFor(size int) int {
	w := zstd.MinWindowSize
	for w < size && w < zstd.MaxWindowSize {
		w <<= 1
	}
	return w
}

type framesWriter struct {
	w       io.Writer
	encs    map[zstd.EncoderLevel]*zstd.Encoder
	text    zstd.EncoderLevel
	binary  zstd.EncoderLevel
	level   zstd.EncoderLevel // of the frame being buffered
	size    int
	workers int
	buf     []byte
	pending []chan []byte // frames being compressed, in stream order
	err     error
}

func (f *framesWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && f.err == nil {
		if f.buf == nil {
			f.buf = make([]byte, 0, f.size)
		}
		k := min(len(p), f.size-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(f.buf) == f.size {
			f.dispatch()
		}
	}
	return n, f.err
}

// dispatch starts compressing the buffered frame and, when as many frames
// as cores are in flight, writes out the oldest.
func (f *framesWriter) dispatch() {
	in, out, enc := f.buf, make(chan []byte, 1), f.encs[f.level]
	f.buf = nil
	go func() { out <- enc.EncodeAll(in, nil) }()
	f.pending = append(f.pending, out)
	for len(f.pending) > f.workers && f.err == nil {
		f.flushOldest()
	}
}

func (f *framesWriter) flushOldest() {
	frame := <-f.pending[0]
	f.pending = f.pending[1:]
	if f.err == nil {
		_, f.err = f.w.Write(frame)
	}
}

func (f *framesWriter) Close() error {
	if len(f.buf) > 0 && f.err == nil {
		f.dispatch()
	}
	for len(f.pending) > 0 {
		f.flushOldest() // waits for every goroutine, even after an error
	}
	for _, enc := range f.encs {
		if cerr := enc.Close(); f.err == nil {
			f.err = cerr
		}
	}
	return f.err
}

// binarySetter is a compressing writer that can take binary files at
// another level (framesWriter): Writer tells it before each entry.
type binarySetter interface {
	setBinary(binary bool)
}

// setBinary ends the buffered frame if the level changes, and compresses
// what follows at the binary level or at the text level.
func (f *framesWriter) setBinary(binary bool) {
	l := f.text
	if binary {
		l = f.binary
	}
	if l == f.level {
		return
	}
	if len(f.buf) > 0 && f.err == nil {
		f.dispatch()
	}
	f.level = l
}
