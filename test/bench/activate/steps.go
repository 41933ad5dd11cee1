package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// timedHost prints, with -steps, every command run on a host and how
// long it took: where an activation spends its time besides the reload.
type timedHost struct {
	remote.Host
	runs *atomic.Int64 // commands run, all hosts
}

func (h timedHost) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	h.runs.Add(1)
	start := time.Now()
	res, err := h.Host.Run(ctx, c)
	if *steps {
		fmt.Fprintf(os.Stderr, "     %s %s: ran %q in %dms\n", start.Format("15:04:05.000"), h.Name(), label(c), time.Since(start).Milliseconds())
	}
	return res, err
}

func (h timedHost) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	return h.Host.DialTCP(ctx, addr)
}

// label names a command by its script's last line, and its arguments
// when they are short.
func label(c remote.Cmd) string {
	lines := strings.Split(strings.TrimSpace(c.Script), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if len(last) > 40 {
		last = last[:40]
	}
	var args []string
	for _, a := range c.Args {
		if len(a) < 30 {
			args = append(args, a)
		}
	}
	return last + " " + strings.Join(args, " ")
}
