package tarball

import (
	"archive/tar"
	"fmt"
	"io"

	"github.com/org/next-deploy/pkg/release"
)

// Writer writes a tar stream through a format's compressor: pack writes
// artifacts with it and Subset a delta's payload, so both come out of the
// same compressor at the same settings. archiver's Archive.Archive would
// do both, but it drops the errors of closing the tar writer and the
// compressor, which write the last blocks; here they count, and so does
// the first write error, which a compressor may not report again. A
// compressor that compresses binaries apart (zstdFrames) is told before
// each entry whether it is one (binaryFile).
type Writer struct {
	tw  *tar.Writer
	wc  io.WriteCloser
	bs  binarySetter
	out *errWriter
}

// NewWriter writes a tar stream to w in format f at a compression level
// (0: the format's default, see Levels). Every compressor option is
// fixed, never derived from the machine, so the same entries give the
// same bytes on any runner.
func NewWriter(w io.Writer, f release.Format, level int) (*Writer, error) {
	comp, err := compressor(f, level)
	if err != nil {
		return nil, err
	}
	tw := &Writer{out: &errWriter{w: w}}
	var dst io.Writer = tw.out
	if comp != nil {
		if tw.wc, err = comp.OpenWriter(tw.out); err != nil {
			return nil, err
		}
		dst = tw.wc
		tw.bs, _ = tw.wc.(binarySetter)
	}
	tw.tw = tar.NewWriter(dst)
	return tw, nil
}

// WriteHeader starts an entry; its content follows through Write.
func (w *Writer) WriteHeader(h *tar.Header) error {
	if w.bs != nil {
		regular := h.Typeflag != tar.TypeDir && h.Typeflag != tar.TypeSymlink
		w.bs.setBinary(regular && binaryFile(h.Name, h.Size))
	}
	return w.tw.WriteHeader(h)
}

// Write writes the current entry's content.
func (w *Writer) Write(p []byte) (int, error) { return w.tw.Write(p) }

// Close writes the tar's end and the compressor's last blocks; it does
// not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("finish tar: %w", err)
	}
	if w.wc != nil {
		if err := w.wc.Close(); err != nil {
			return fmt.Errorf("finish compression: %w", err)
		}
	}
	return w.out.err
}

// errWriter remembers the first write error and refuses every write
// after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
