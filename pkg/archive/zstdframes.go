package archive

import (
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// zstdFrames writes zstd as a series of independent frames of frameSize
// input bytes each, compressed on every core at once. One zstd stream
// compresses on one core; a runner has several, and pack's time is on
// every deploy's critical path. The bytes depend only on the input, the
// level and frameSize, never on the number of cores: a frame ends every
// frameSize bytes however many are in flight, so the artifact stays
// reproducible across runners. zstd, GNU tar and every decoder read
// concatenated frames as one stream (the zstd command's -T does the same).
type zstdFrames struct {
	level     zstd.EncoderLevel
	frameSize int
}

// frameSize is large enough that each frame's window finds what a window
// of the whole stream would (a Next standalone tree repeats itself within
// a few MiB), small enough to give two cores work on a 40 MB tree.
const frameSize = 4 << 20

func (z zstdFrames) OpenWriter(w io.Writer) (io.WriteCloser, error) {
	workers := runtime.GOMAXPROCS(0)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(z.level),
		zstd.WithEncoderCRC(true),
		zstd.WithEncoderConcurrency(workers),
		zstd.WithWindowSize(windowFor(z.frameSize)),
	)
	if err != nil {
		return nil, err
	}
	return &framesWriter{w: w, enc: enc, size: z.frameSize, workers: workers}, nil
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
	enc     *zstd.Encoder
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
	in, out := f.buf, make(chan []byte, 1)
	f.buf = nil
	go func() { out <- f.enc.EncodeAll(in, nil) }()
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
	if len(f.buf) > 0 {
		f.dispatch()
	}
	for len(f.pending) > 0 {
		f.flushOldest() // waits for every goroutine, even after an error
	}
	if cerr := f.enc.Close(); f.err == nil {
		f.err = cerr
	}
	return f.err
}
