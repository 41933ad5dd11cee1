package tarball

import (
	"io"
	"path"
	"runtime"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// zstdFrames writes zstd as a series of independent frames, compressed
// on every core at once. One zstd stream compresses on one core; a runner
// has several, and pack's time is on every deploy's critical path. The
// bytes depend only on the input and the settings, never on the number of
// cores: a frame ends after ZstdFrameSize bytes (bestFrameSize while text
// is at the level's own, see bestBudget), where the budget is spent, or
// where the level changes (see binaryLevel), however many are in flight,
// so the artifact stays reproducible across runners. zstd, GNU tar and
// every decoder read concatenated frames as one stream (the zstd
// command's -T does the same).
type zstdFrames struct {
	level zstd.EncoderLevel
	// after is the text level once budget bytes of text are written.
	after zstd.EncoderLevel
	// binary is the level of the files binaryFile picks.
	binary zstd.EncoderLevel
	// frameSize is the frame size (and window), bestSize the frame size
	// of text at level.
	frameSize, bestSize int
	budget              int64
}

// ZstdFrameSize is the input bytes of one zstd frame (see zstdFrames), and
// its window: large enough that a frame finds what a package tree repeats
// across files (a published package such as next holds the CommonJS and
// the ESM build of the same sources, and one server runtime per router and
// flavour, megabytes apart), small enough to give two cores work. On
// next@15.5.4's 138 MB at "better": 8 MiB frames give 21.5 MB, 16 MiB
// 18.2 MB, 32 MiB 16.6 MB, 64 MiB 15.8 MB (two frames in flight instead
// of five). The window stays far below the 128 MiB (window log 27) that
// the zstd command decodes without --memory or --long. Changing it
// changes the bytes of trees larger than a frame (pack's golden test).
const ZstdFrameSize = 32 << 20

// bestBudget is how many bytes of text compress at the level's own
// before the text steps down to textLevel ("better" for the default, 10).
// "best" makes JavaScript about 9% smaller than "better" at about three
// times the CPU: worth it on the 20 MB of text of the fixture's
// standalone tree, but on next@15.5.4's 138 MB "best" throughout costs
// as much CPU as gzip -6. A standalone tree of an app of usual size stays
// within the budget and is packed as before this budget (8 MiB frames
// at "best"); a package tree gets its first 32 MiB so, and the rest in
// frames of ZstdFrameSize at "better", whose windows find what the tree
// repeats. Changing either changes artifacts' bytes (pack's golden test).
const (
	bestBudget    = 32 << 20
	bestFrameSize = 8 << 20
)

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
	f := &framesWriter{w: w, size: z.frameSize, bestSize: z.bestSize, workers: workers, text: z.level, after: z.after, binary: z.binary,
		budget: z.budget, level: z.level, encs: map[zstd.EncoderLevel]*zstd.Encoder{}, free: make(chan []byte, workers+1)}
	for _, l := range []zstd.EncoderLevel{z.level, z.after, z.binary} {
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
	w    io.Writer
	encs map[zstd.EncoderLevel]*zstd.Encoder
	// text is the text level: the level's own until budget bytes of
	// text are dispatched (textIn), after from then on.
	text, after, binary zstd.EncoderLevel
	budget, textIn      int64
	level               zstd.EncoderLevel // of the frame being buffered
	inBinary            bool              // the buffered frame holds binary files
	size, bestSize      int               // frame sizes, see limit
	workers             int
	buf                 []byte
	free                chan []byte   // buffers of frames compressed, for the next ones
	pending             []chan []byte // frames being compressed, in stream order
	err                 error
}

func (f *framesWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && f.err == nil {
		limit := f.limit()
		if f.buf == nil {
			select {
			case b := <-f.free:
				f.buf = b[:0]
			default:
				f.buf = make([]byte, 0, f.size)
			}
		}
		k := min(len(p), limit-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(f.buf) == limit {
			f.dispatch()
		}
	}
	return n, f.err
}

// limit is the size of the buffered frame: text at the level's own ends
// at bestSize and where the budget is spent, so that the slow level
// spreads over the cores and stops at the budget.
func (f *framesWriter) limit() int {
	if f.inBinary || f.text == f.after {
		return f.size
	}
	return int(min(int64(f.bestSize), f.budget-f.textIn))
}

// dispatch starts compressing the buffered frame and, when as many frames
// as cores are in flight, writes out the oldest.
func (f *framesWriter) dispatch() {
	in, out, enc := f.buf, make(chan []byte, 1), f.encs[f.level]
	f.buf = nil
	if !f.inBinary {
		if f.textIn += int64(len(in)); f.textIn >= f.budget {
			f.text, f.level = f.after, f.after // from the next frame on
		}
	}
	go func() {
		out <- enc.EncodeAll(in, nil)
		select {
		case f.free <- in:
		default:
		}
	}()
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

// textLevel is the level text steps down to once bestBudget bytes of it
// are written: "better" for levels 10 to 18, the level's own otherwise
// (19 and more ask for the smallest artifact whatever it costs).
func textLevel(level int) zstd.EncoderLevel {
	if level >= 10 && level < 19 {
		return zstd.SpeedBetterCompression
	}
	return zstd.EncoderLevelFromZstd(level)
}

// binarySetter is a compressing writer that can take binary files at
// another level (framesWriter): Writer tells it before each entry.
type binarySetter interface {
	setBinary(binary bool)
}

// setBinary ends the buffered frame if the level changes, and compresses
// what follows at the binary level or at the text level.
func (f *framesWriter) setBinary(binary bool) {
	if f.levelFor(binary) != f.level && len(f.buf) > 0 && f.err == nil {
		f.dispatch()
	}
	f.level = f.levelFor(binary) // dispatch may have stepped the text down
	if len(f.buf) == 0 {
		f.inBinary = binary
	}
}

func (f *framesWriter) levelFor(binary bool) zstd.EncoderLevel {
	if binary {
		return f.binary
	}
	return f.text
}
