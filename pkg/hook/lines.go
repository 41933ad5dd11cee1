package hook

import (
	"bytes"
	"strings"
	"sync"
)

// maxLine is the longest line Lines holds back waiting for its end.
const maxLine = 16 << 10

// Lines is an io.Writer that hands its input on a line at a time, each
// with a prefix: a hook's output, streamed as it comes, each line whole
// and naming where it ran, however many hosts write at once. Close hands
// on what is left without a newline.
type Lines struct {
	prefix string
	emit   func(string)
	mu     sync.Mutex
	buf    []byte
	last   string
}

// NewLines writes each line to emit as prefix + line; nil emit drops
// them.
func NewLines(prefix string, emit func(string)) *Lines {
	if emit == nil {
		emit = func(string) {}
	}
	return &Lines{prefix: prefix, emit: emit}
}

// Write implements io.Writer; it never fails.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	rest := l.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		l.line(rest[:i])
		rest = rest[i+1:]
	}
	for len(rest) >= maxLine {
		l.line(rest[:maxLine])
		rest = rest[maxLine:]
	}
	l.buf = append(l.buf[:0], rest...)
	return len(p), nil
}

// Close hands on a last line without its newline.
func (l *Lines) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.line(l.buf)
		l.buf = l.buf[:0]
	}
	return nil
}

// Last is the last line that was not blank, without the prefix.
func (l *Lines) Last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

func (l *Lines) line(b []byte) {
	s := strings.TrimRight(string(b), "\r")
	if strings.TrimSpace(s) != "" {
		l.last = s
	}
	l.emit(l.prefix + s)
}
