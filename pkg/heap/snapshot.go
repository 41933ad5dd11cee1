package heap

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// Heap snapshots of a pm2 worker: node started with
// --heapsnapshot-signal=<sig> writes Heap.<date>.<time>.<pid>.<tid>.<seq>.heapsnapshot
// into its --diagnostic-dir (else its cwd) when it gets <sig>. The
// worker's event loop stops while it writes (seconds for a large heap),
// and writing needs memory and disk: take one worker at a time.

// Probe is what a host says about a worker before a snapshot.
type Probe struct {
	PID int `json:"pid"`
	// Signal is the worker's --heapsnapshot-signal ("" without one).
	Signal string `json:"signal"`
	// Catches is true when the process handles Signal (SigCgt in
	// /proc/<pid>/status): without a handler the signal would kill it.
	Catches bool `json:"catches"`
	// Dir is where the snapshot goes: --diagnostic-dir, else the cwd.
	Dir string `json:"dir"`
	// Free is the free space of Dir's file system, in bytes.
	Free int64 `json:"free"`
	// Gone is true when the process no longer exists.
	Gone bool `json:"gone"`
}

// probeScript asks a host about workers (probe.sh says how).
//
//go:embed probe.sh
var probeScript string

// Worker is a process to probe, with what its memory report says about
// its heap snapshots (Signal and Dir may be "": read from its command
// line).
type Worker struct {
	PID         int
	Signal, Dir string
}

// ProbeWorkers asks h about the workers, changing nothing.
func ProbeWorkers(ctx context.Context, h remote.Host, workers []Worker) ([]Probe, error) {
	var args []string
	for _, w := range workers {
		args = append(args, strconv.Itoa(w.PID), w.Signal, w.Dir)
	}
	res, err := h.Run(ctx, remote.Cmd{Script: probeScript, Args: args})
	if err != nil {
		return nil, fmt.Errorf("look at the workers on %s: %w", h.Name(), err)
	}
	var out []Probe
	sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		pid, _ := strconv.Atoi(f[min(1, len(f)-1)])
		switch {
		case f[0] == "G" && len(f) == 2:
			out = append(out, Probe{PID: pid, Gone: true})
		case f[0] == "W" && len(f) == 6:
			kb, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("look at the workers on %s: bad free space %q", h.Name(), f[4])
			}
			out = append(out, Probe{PID: pid, Signal: f[2], Catches: catches(f[3], f[2]), Free: kb * 1024, Dir: f[5]})
		default:
			return nil, fmt.Errorf("look at the workers on %s: unexpected answer %q", h.Name(), sc.Text())
		}
	}
	if len(out) != len(workers) {
		return nil, fmt.Errorf("look at the workers on %s: %d answers for %d workers", h.Name(), len(out), len(workers))
	}
	return out, nil
}

// signals are the Linux numbers of the signals a heap snapshot may be
// bound to.
var signals = map[string]int{
	"SIGHUP": 1, "SIGQUIT": 3, "SIGTRAP": 5, "SIGUSR1": 10, "SIGUSR2": 12, "SIGALRM": 14,
	"SIGCONT": 18, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
	"SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPWR": 30, "SIGSYS": 31,
}

// catches reads the SigCgt mask (hex) for sig.
func catches(mask, sig string) bool {
	n, ok := signals[sig]
	m, err := strconv.ParseUint(mask, 16, 64)
	return ok && err == nil && m&(1<<(n-1)) != 0
}

// Need is the free space a snapshot of a worker with heap bytes in use
// asks for: twice the heap (a snapshot is often larger than the heap it
// describes) plus margin.
func Need(heap, margin int64) int64 { return 2*heap + margin }

// Check refuses a snapshot that could hurt the worker or the host.
func (p Probe) Check(heap, margin int64) error {
	switch {
	case p.Gone:
		return fmt.Errorf("pid %d is gone (restarted?): run it again", p.PID)
	case p.Signal == "":
		return fmt.Errorf("pid %d was started without --heapsnapshot-signal: its ecosystem predates next-deploy's heap snapshots; add '--heapsnapshot-signal=SIGUSR2' and '--diagnostic-dir=<deploy path>/.next-deploy/heap' to node_args (next-deploy config pm2 prints them), then pm2 reload", p.PID)
	case signals[p.Signal] == 0:
		return fmt.Errorf("pid %d takes heap snapshots on %s, which heap-snapshot does not send: use SIGUSR2", p.PID, p.Signal)
	case !p.Catches:
		return fmt.Errorf("pid %d does not handle %s yet (still starting?): the signal would kill it; try again in a few seconds", p.PID, p.Signal)
	case p.Free < Need(heap, margin):
		return fmt.Errorf("%s has %s free, a snapshot of pid %d (heap %s) needs %s (2 x heap + margin %s): free disk space there, or lower --disk-margin",
			p.Dir, mb(p.Free), p.PID, mb(heap), mb(Need(heap, margin)), mb(margin))
	}
	return nil
}

func mb(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// takeScript makes a worker write a snapshot and waits for it (take.sh
// says how).
//
//go:embed take.sh
var takeScript string

// pollEvery is how often takeScript looks for the finished snapshot.
const pollEvery = 200 * time.Millisecond

// Node names a snapshot <snapPrefix><date>.<time>.<pid>.<tid>.<seq><snapSuffix>;
// the scripts get the two parts as arguments.
const (
	snapPrefix = "Heap."
	snapSuffix = ".heapsnapshot"
)

// Snapshot is a heap snapshot written on a host.
type Snapshot struct {
	PID  int
	Path string // absolute, symlinks resolved
	Size int64
}

// Take makes worker p write a heap snapshot and waits for it, at most
// timeout.
func Take(ctx context.Context, h remote.Host, p Probe, timeout time.Duration) (*Snapshot, error) {
	polls := strconv.Itoa(max(1, int(timeout/pollEvery)))
	pause := strconv.FormatFloat(pollEvery.Seconds(), 'f', -1, 64)
	res, err := h.Run(ctx, remote.Cmd{Script: takeScript, Args: []string{
		strconv.Itoa(p.PID), strings.TrimPrefix(p.Signal, "SIG"), p.Dir, polls, pause, snapPrefix, snapSuffix,
	}})
	if err != nil {
		return nil, fmt.Errorf("heap snapshot of pid %d on %s: %w", p.PID, h.Name(), err)
	}
	sizeStr, file, ok := strings.Cut(strings.TrimSpace(string(res.Stdout)), "\t")
	size, serr := strconv.ParseInt(sizeStr, 10, 64)
	if !ok || serr != nil {
		return nil, fmt.Errorf("heap snapshot of pid %d on %s: unexpected answer %q", p.PID, h.Name(), res.Stdout)
	}
	s := &Snapshot{PID: p.PID, Path: file, Size: size}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("heap snapshot of pid %d on %s: %w", p.PID, h.Name(), err)
	}
	return s, nil
}

var snapName = regexp.MustCompile(`^` + regexp.QuoteMeta(snapPrefix) + `[0-9]+\.[0-9]+\.([0-9]+)\.[0-9]+\.[0-9]+` + regexp.QuoteMeta(snapSuffix) + `$`)

// check makes sure Path is a snapshot file of PID, the only files Fetch
// reads and Remove deletes.
func (s *Snapshot) check() error {
	m := snapName.FindStringSubmatch(path.Base(s.Path))
	if !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path || m == nil || m[1] != strconv.Itoa(s.PID) {
		return fmt.Errorf("%q is not a heap snapshot file of pid %d", s.Path, s.PID)
	}
	return nil
}

// fetchScript prints a snapshot file, removeScript deletes it; both
// refuse any other path.
var (
	//go:embed fetch.sh
	fetchScript string
	//go:embed remove.sh
	removeScript string
)

// Fetch copies the snapshot to w and checks it arrived whole: every byte,
// and the end of a heap snapshot's JSON.
func (s *Snapshot) Fetch(ctx context.Context, h remote.Host, w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	cw := &countTail{w: w}
	if _, err := h.Run(ctx, remote.Cmd{Script: fetchScript, Args: []string{s.Path, snapPrefix, snapSuffix}, Stdout: cw}); err != nil {
		return fmt.Errorf("download %s from %s: %w", s.Path, h.Name(), err)
	}
	if cw.n != s.Size {
		return fmt.Errorf("download %s from %s: %d bytes, the file has %d", s.Path, h.Name(), cw.n, s.Size)
	}
	if !bytes.HasSuffix(bytes.TrimSpace(cw.tail), []byte("]}")) {
		return fmt.Errorf("download %s from %s: the file does not end like a heap snapshot (cut short?)", s.Path, h.Name())
	}
	return nil
}

// Remove deletes the snapshot from the host.
func (s *Snapshot) Remove(ctx context.Context, h remote.Host) error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := h.Run(ctx, remote.Cmd{Script: removeScript, Args: []string{s.Path, snapPrefix, snapSuffix}}); err != nil {
		return fmt.Errorf("remove %s from %s: %w", s.Path, h.Name(), err)
	}
	return nil
}

// countTail counts what it passes on and keeps the last bytes.
type countTail struct {
	w    io.Writer
	n    int64
	tail []byte
}

func (c *countTail) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.tail = append(c.tail, p[:n]...)
	if len(c.tail) > 16 {
		c.tail = c.tail[len(c.tail)-16:]
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}

// ErrNoWorkers is returned when a host runs no worker to snapshot.
var ErrNoWorkers = errors.New("no worker to snapshot")
