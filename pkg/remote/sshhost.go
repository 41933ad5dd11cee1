package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/org/next-deploy/pkg/clock"
)

// sshHost is one SSH connection. Runs on it are concurrent, each in its own
// session, at most maxSessions at once.
type sshHost struct {
	name     string
	client   *ssh.Client
	jump     *ssh.Client // the jump host's connection, or nil
	sessions chan struct{}
	done     chan struct{} // closed when the connection has ended
	broken   atomic.Bool   // a session could not be opened, or ended without a status: the connection is failing

	mu   sync.Mutex
	lost error // why the connection ended, when not by Close
}

func (d *Dialer) newHost(name string, c, jump *ssh.Client) *sshHost {
	h := &sshHost{
		name:     name,
		client:   c,
		jump:     jump,
		sessions: make(chan struct{}, d.maxSessions),
		done:     make(chan struct{}),
	}
	go func() {
		c.Wait()
		if jump != nil {
			jump.Close()
		}
		close(h.done)
	}()
	if d.keepAlive > 0 {
		go h.keepAlive(d.keepAlive)
	}
	return h
}

// Name implements Host: "user@host:port".
func (h *sshHost) Name() string { return h.name }

// Close implements Host.
func (h *sshHost) Close() error {
	err := h.client.Close()
	<-h.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// alive reports whether the connection is still up.
func (h *sshHost) alive() bool {
	if h.broken.Load() {
		return false
	}
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// keepAlive sends a keepalive request every interval; when keepAliveMisses
// of them in a row get no answer it closes the connection, so a Run on a
// connection that silently died fails instead of hanging.
func (h *sshHost) keepAlive(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	replies := make(chan error, 1)
	waiting, misses := false, 0
	for {
		select {
		case <-h.done:
			return
		case err := <-replies:
			waiting, misses = false, 0
			if err != nil {
				return // the connection is closing; Wait reports it
			}
		case <-tick.C:
			if !waiting {
				waiting = true
				go func() {
					// OpenSSH answers failure to the unknown request: an
					// answer all the same.
					_, _, err := h.client.SendRequest("keepalive@openssh.com", true, nil)
					replies <- err
				}()
				continue
			}
			if misses++; misses >= keepAliveMisses {
				h.mu.Lock()
				h.lost = fmt.Errorf("connection lost: no answer to keepalive for %s", clock.Format(time.Duration(misses)*interval))
				h.mu.Unlock()
				h.client.Close()
				return
			}
		}
	}
}

// connErr wraps an error of the connection (not of the script), saying
// why the connection ended when the keepalive ended it. Like every error
// of Run it does not name the host: the caller does.
func (h *sshHost) connErr(err error) error {
	h.mu.Lock()
	lost := h.lost
	h.mu.Unlock()
	if lost != nil {
		return fmt.Errorf("ssh: %w: %w", lost, err)
	}
	return fmt.Errorf("ssh: %w", err)
}

// cancelGrace is how long a cancelled script gets to end after TERM
// before its session is closed.
const cancelGrace = 5 * time.Second

// Run implements Host: c runs in its own session.
func (h *sshHost) Run(ctx context.Context, c Cmd) (*Result, error) {
	res := &Result{}
	select {
	case h.sessions <- struct{}{}:
		defer func() { <-h.sessions }()
	case <-ctx.Done():
		return res, context.Cause(ctx)
	case <-h.done:
		return res, h.connErr(errors.New("connection closed"))
	}
	if err := ctx.Err(); err != nil {
		return res, context.Cause(ctx)
	}
	s, err := h.newSession(ctx)
	if err != nil {
		return res, err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	tail := &tailWriter{max: 16 << 10}
	s.Stdout, s.Stderr = c.Stdout, io.MultiWriter(c.Stderr, tail)
	if c.Stdout == nil {
		s.Stdout = &stdout
	}
	if c.Stderr == nil {
		s.Stderr = &stderr
	}
	var in *errReader
	if c.Stdin != nil {
		in = &errReader{r: c.Stdin}
		s.Stdin = in
	}
	if err := s.Start(CommandLine(c)); err != nil {
		return res, h.connErr(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		// OpenSSH (7.9+) delivers the signal to the session's whole
		// process group (killpg), so the script's children end too.
		s.Signal(ssh.SIGTERM)
		select {
		case <-waited:
			res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
		case <-time.After(cancelGrace):
			// Close ends the copies; the buffers are left to them.
			s.Close()
		}
		return res, context.Cause(ctx)
	}
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	msg := stderr.String()
	if c.Stderr != nil {
		msg = tail.String()
	}
	return res, h.outcome(err, in, msg)
}

// outcome is the error of a session that ended with err (from Wait);
// stderr is what the script wrote there, or its end.
func (h *sshHost) outcome(err error, in *errReader, stderr string) error {
	if in != nil && in.failed() != nil {
		return h.connErr(fmt.Errorf("read stdin: %w", in.failed()))
	}
	var ee *ssh.ExitError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		// io.EOF: the script exited 0 before reading all of stdin.
		return nil
	case errors.As(err, &ee):
		return &ExitError{Host: h.name, Code: exitCode(ee), Stderr: stderr}
	default:
		// The session ended without an exit status: the server side of
		// the connection went away. The transport may not have seen the
		// end yet; a pool must not hand the connection out again.
		h.broken.Store(true)
		return h.connErr(err)
	}
}

// newSession opens a session, retrying while sshd refuses it for lack of
// a free slot: OpenSSH frees a session's slot a moment after its close,
// and its MaxSessions may be lower than ours.
func (h *sshHost) newSession(ctx context.Context) (*ssh.Session, error) {
	wait := 10 * time.Millisecond
	deadline := time.Now().Add(sessionRetry)
	for {
		s, err := h.client.NewSession()
		var oce *ssh.OpenChannelError
		if err != nil && !errors.As(err, &oce) {
			// Not a refusal: the connection itself failed. Say so at
			// once, before its reader notices, so a Pool dials again.
			h.broken.Store(true)
			h.client.Close()
		}
		if err == nil || oce == nil || time.Now().After(deadline) ||
			oce.Reason != ssh.ConnectionFailed && oce.Reason != ssh.Prohibited {
			if err != nil {
				return nil, h.connErr(fmt.Errorf("open session: %w", err))
			}
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// sessionRetry bounds how long newSession waits for a free slot.
const sessionRetry = 30 * time.Second

// exitCode is the status of a script that exited, or 128 + the signal
// number of one that was killed, as a shell reports it.
func exitCode(ee *ssh.ExitError) int {
	if ee.Signal() == "" {
		return ee.ExitStatus()
	}
	if n, ok := signalNumbers[ee.Signal()]; ok {
		return 128 + n
	}
	return 255
}

var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

// DialTCP implements Host: the connection is opened by sshd (direct-tcpip),
// so addr is resolved and reached from the host's side. The connection
// does not support deadlines: bound its use with a context or an
// http.Client timeout, which close it.
func (h *sshHost) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := h.client.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial %s from %s: %w", addr, h.name, context.Cause(ctx))
		}
		return nil, fmt.Errorf("dial %s from %s: %w", addr, h.name, err)
	}
	return conn, nil
}

// errReader remembers the error of a stdin that failed, so a script that
// saw a short stdin and exited 0 is not taken for a success.
// It is read by the session's copy, which may outlive Run.
type errReader struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.mu.Lock()
		e.err = err
		e.mu.Unlock()
	}
	return n, err
}

func (e *errReader) failed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }
