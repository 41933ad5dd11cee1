package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
)

// wire counts every byte between the runner and one host at the TCP
// level: a proxy on loopback in front of the host's sshd. Our SSH client
// and rsync's ssh both connect to it, so the counts hold the SSH protocol
// (handshake, key exchange, authentication, channel framing, MACs,
// padding) and whatever each tool sends inside, both ways.
type wire struct {
	ln       net.Listener
	host     *bed.Host
	up, down atomic.Int64 // runner -> host, host -> runner
	conns    atomic.Int64
}

func startWire(h *bed.Host) (*wire, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &wire{ln: ln, host: h}
	go w.serve()
	return w, nil
}

func (w *wire) port() int { return w.ln.Addr().(*net.TCPAddr).Port }

// total is both directions so far.
func (w *wire) total() int64 { return w.up.Load() + w.down.Load() }

func (w *wire) serve() {
	for {
		c, err := w.ln.Accept()
		if err != nil {
			return
		}
		w.conns.Add(1)
		go w.relay(c)
	}
}

func (w *wire) relay(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", net.JoinHostPort(w.host.Addr, strconv.Itoa(w.host.Port)))
	if err != nil {
		return
	}
	defer s.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn, n *atomic.Int64) {
		defer wg.Done()
		io.Copy(counting{dst, n}, src)
		// Half-close, so the other way finishes what it has in flight.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(s, c, &w.up)
	go pipe(c, s, &w.down)
	wg.Wait()
}

type counting struct {
	w io.Writer
	n *atomic.Int64
}

func (c counting) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// wires are the proxies of every host of the bed, with the known_hosts,
// targets and ssh_config that reach the hosts through them.
type wires struct {
	byHost     []*wire
	targets    []inventory.Target
	knownHosts []byte
	sshConfig  string // for rsync's ssh: h0, h1, ... through the proxies
}

func startWires(b *bed.Bed) (*wires, error) {
	ws := &wires{}
	var kh, cfg, flag strings.Builder
	for i, h := range b.Hosts {
		w, err := startWire(h)
		if err != nil {
			ws.close()
			return nil, err
		}
		ws.byHost = append(ws.byHost, w)
		fmt.Fprintf(&kh, "[127.0.0.1]:%d %s\n", w.port(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.HostKey))))
		fmt.Fprintf(&cfg, "Host %s\n\tHostName 127.0.0.1\n\tPort %d\n\tUser %s\n", h.Name(), w.port(), h.User)
		if i > 0 {
			flag.WriteByte(',')
		}
		fmt.Fprintf(&flag, "%s@127.0.0.1:%d", h.User, w.port())
	}
	ws.knownHosts = []byte(kh.String())
	khFile := filepath.Join(b.Dir, "known_hosts.wire")
	ws.sshConfig = filepath.Join(b.Dir, "ssh_config.wire")
	fmt.Fprintf(&cfg, "Host *\n\tIdentityFile %s\n\tIdentitiesOnly yes\n\tUserKnownHostsFile %s\n\tGlobalKnownHostsFile /dev/null\n\tStrictHostKeyChecking yes\n\tBatchMode yes\n\tLogLevel ERROR\n", b.ClientKeyFile, khFile)
	err := errors.Join(os.WriteFile(khFile, ws.knownHosts, 0o644), os.WriteFile(ws.sshConfig, []byte(cfg.String()), 0o644))
	if err == nil {
		ws.targets, err = inventory.Parse(flag.String())
	}
	if err != nil {
		ws.close()
		return nil, err
	}
	return ws, nil
}

func (ws *wires) close() {
	for _, w := range ws.byHost {
		w.ln.Close()
	}
}

// total is every host's bytes both ways so far.
func (ws *wires) total() int64 {
	var n int64
	for _, w := range ws.byHost {
		n += w.total()
	}
	return n
}

// byPort finds the proxy a target dials.
func (ws *wires) byPort(port int) *wire {
	for _, w := range ws.byHost {
		if w.port() == port {
			return w
		}
	}
	return nil
}

// execs attributes the TCP bytes of each host's connection to what ran
// on it: the connection's setup (SSH handshake and login), then every
// script by name, with how much of it was the command line (the script's
// text and arguments), stdin and stdout (the rest is SSH's own), and how
// long it took, from the runner's side (for receive.sh: the upload and
// all the host's work on it). The
// delta flow runs one script at a time per host, so the proxy's count
// between a Run's start and end is that Run's.
type execs struct {
	ws *wires
	mu sync.Mutex
	by map[string]*execBytes
}

type execBytes struct {
	calls                         int
	up, down, line, stdin, stdout int64
	seconds                       float64
}

func newExecs(ws *wires) *execs { return &execs{ws: ws, by: map[string]*execBytes{}} }

func (e *execs) add(name string, secs float64, up, down, line, stdin, stdout int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.by[name]
	if x == nil {
		x = &execBytes{}
		e.by[name] = x
	}
	x.calls++
	x.seconds += secs
	x.up, x.down, x.line, x.stdin, x.stdout = x.up+up, x.down+down, x.line+line, x.stdin+stdin, x.stdout+stdout
}

// connector wraps a connector so every host it gives is counted.
func (e *execs) connector(c interface {
	Get(context.Context, inventory.Target) (remote.Host, error)
}) *countedConn {
	return &countedConn{c: c, e: e, seen: map[string]bool{}}
}

type countedConn struct {
	c interface {
		Get(context.Context, inventory.Target) (remote.Host, error)
	}
	e    *execs
	mu   sync.Mutex
	seen map[string]bool
}

func (cc *countedConn) Get(ctx context.Context, t inventory.Target) (remote.Host, error) {
	w := cc.e.ws.byPort(t.Port)
	u, d, start := w.up.Load(), w.down.Load(), time.Now()
	h, err := cc.c.Get(ctx, t)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	first := !cc.seen[t.String()]
	cc.seen[t.String()] = true
	cc.mu.Unlock()
	if first {
		cc.e.add("(connection: SSH handshake, login)", time.Since(start).Seconds(), w.up.Load()-u, w.down.Load()-d, 0, 0, 0)
	}
	return countedHost{Host: h, w: w, e: cc.e}, nil
}

type countedHost struct {
	remote.Host
	w *wire
	e *execs
}

func (h countedHost) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	var in atomic.Int64
	if c.Stdin != nil {
		c.Stdin = io.TeeReader(c.Stdin, counting{io.Discard, &in})
	}
	u, d, start := h.w.up.Load(), h.w.down.Load(), time.Now()
	res, err := h.Host.Run(ctx, c)
	var out int64
	if res != nil {
		out = int64(len(res.Stdout))
	}
	h.e.add(scriptOf(c.Script), time.Since(start).Seconds(), h.w.up.Load()-u, h.w.down.Load()-d, int64(len(remote.CommandLine(c))), in.Load(), out)
	return res, err
}

// scriptOf names a script by the first "# <name>.sh" comment after the
// prelude and the functions it carries.
func scriptOf(s string) string {
	name := "?"
	for l := range strings.Lines(s) {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "#" && strings.HasSuffix(f[1], ".sh") {
			name = f[1] // the last one is the operation's own
		}
	}
	return name
}

// print prints the breakdown, per host (the sums over hosts and runs
// divided by hosts*runs), largest first.
func (e *execs) print(per int, artifact int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.by))
	for n := range e.by {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(e.by[b].up+e.by[b].down, e.by[a].up+e.by[a].down)
	})
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what (per host)\tcalls\tseconds\tTCP up\tTCP down\tTCP both\t% of artifact\tcommand line\tstdin\tstdout\tSSH's own\t")
	var sum execBytes
	for _, n := range names {
		x := e.by[n]
		f := func(v int64) int64 { return v / int64(per) }
		own := f(x.up+x.down) - f(x.line+x.stdin+x.stdout)
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%d\t%d\t%d\t%.3f%%\t%d\t%d\t%d\t%d\t\n", n, x.calls/per, x.seconds/float64(per), f(x.up), f(x.down), f(x.up+x.down),
			100*float64(f(x.up+x.down))/float64(artifact), f(x.line), f(x.stdin), f(x.stdout), own)
		sum.up, sum.down, sum.line, sum.stdin, sum.stdout = sum.up+f(x.up), sum.down+f(x.down), sum.line+f(x.line), sum.stdin+f(x.stdin), sum.stdout+f(x.stdout)
	}
	fmt.Fprintf(tw, "%s\t\t\t%d\t%d\t%d\t%.3f%%\t%d\t%d\t%d\t%d\t\n", "total", sum.up, sum.down, sum.up+sum.down,
		100*float64(sum.up+sum.down)/float64(artifact), sum.line, sum.stdin, sum.stdout, sum.up+sum.down-sum.line-sum.stdin-sum.stdout)
	tw.Flush()
}
