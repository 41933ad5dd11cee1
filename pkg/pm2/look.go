package pm2

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/org/next-deploy/pkg/remote"
)

// Looker looks at a host's workers many times (a watched reload: its
// baseline, every look while pm2 works, the proof after it) from one
// program started once, which keeps a connection to pm2's daemon
// (status.cjs, "looks"): a look is then a question to the daemon, not a
// node program started on the cores the new workers start on (issue 15
// item 3). Where that program cannot ask the daemon, each look is
// StatusMemory. Looks are taken one at a time; Close ends the program.
type Looker struct {
	r  Runner
	h  remote.Host
	in *io.PipeWriter
	// lines are the program's answers, one a line; done is closed when
	// it has ended.
	lines chan []byte
	done  chan struct{}

	mu    sync.Mutex
	first bool // the program's first answer (given unasked) is not read yet
	dead  bool // the program ended, or cannot ask the daemon
}

// looksScript runs status.cjs ($1) in its "looks" mode with the memory
// report directory $2, with the client findClient finds.
const looksScript = findClient + `
exec node -e "$1" -- "$2" "rpc:${pm2dir%/bin/*}" looks
`

// Looker starts the looking program on h; it runs until Close or until
// ctx ends.
func (r Runner) Looker(ctx context.Context, h remote.Host) *Looker {
	inR, inW := io.Pipe()
	l := &Looker{r: r, h: h, in: inW, lines: make(chan []byte, 4), done: make(chan struct{}), first: true}
	c := r.cmd(looksScript, statusJS, MemDir)
	c.Stdin, c.Stdout = inR, &lineWriter{lines: l.lines}
	go func() {
		defer close(l.done)
		_, _ = h.Run(ctx, c) // a failure shows as no answer: each look is then StatusMemory
		inR.Close()
	}()
	return l
}

// Look lists the processes with their memory reports, as StatusMemory.
func (l *Looker) Look(ctx context.Context) ([]Proc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dead {
		if line, ok := l.ask(ctx, ""); ok {
			if ps, err := parseStatus(l.h, line); err == nil {
				return ps, nil
			}
		}
		l.kill()
	}
	return l.r.StatusMemory(ctx, l.h)
}

// Save stores the process list for boot, as pm2 save does, from the
// program (status.cjs writes pm2's dump over the connection it holds):
// no pm2 CLI started on the cores the workers run on. It reports false
// when the program did not save (it cannot ask the daemon, or could
// not write the dump): the caller then runs Runner.Save, pm2's own,
// which says why.
func (l *Looker) Save(ctx context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		return false
	}
	if l.first {
		// The program's first answer is a list given unasked: read it,
		// so the answer taken next is the save's.
		if _, ok := l.ask(ctx, ""); !ok {
			l.kill()
			return false
		}
	}
	line, ok := l.ask(ctx, "save")
	if !ok {
		l.kill()
		return false
	}
	return string(line) == "SAVED"
}

// ask takes the program's next answer (asking for it with the line
// req unless it is the first); ok is false when it gave none.
func (l *Looker) ask(ctx context.Context, req string) (line []byte, ok bool) {
	if !l.first {
		if _, err := l.in.Write([]byte(req + "\n")); err != nil {
			return nil, false
		}
	}
	l.first = false
	select {
	case line := <-l.lines:
		return line, string(line) != "NO"
	case <-l.done:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

// kill marks the program dead and ends its stdin; l.mu is held.
func (l *Looker) kill() {
	l.dead = true
	l.in.Close()
}

// Close ends the program (its stdin ends).
func (l *Looker) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kill()
}

// lineWriter sends each line written to it to lines ("NO", the
// program's word that it cannot ask the daemon, too: it is no list).
type lineWriter struct {
	buf   []byte
	lines chan []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := bytes.Clone(w.buf[:i])
		w.buf = w.buf[i+1:]
		select {
		case w.lines <- line:
		default: // nobody asked for it: never so in order
		}
	}
}
