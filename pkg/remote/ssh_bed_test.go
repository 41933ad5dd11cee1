package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// These tests run against real OpenSSH servers of the test bed: what users
// rely on (host keys, login, the jump host, direct-tcpip, signals) is
// OpenSSH's behaviour, not an in-process server's.

func bedTarget(t *testing.T, h *bed.Host) inventory.Target {
	return target(t, h.Target())
}

func bedAddr(h *bed.Host) string { return net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)) }

func bedConfig(b *bed.Bed) remote.SSHConfig {
	return remote.SSHConfig{KnownHosts: b.KnownHosts, Key: b.ClientKey, ConnectTimeout: 10 * time.Second}
}

func bedDial(t *testing.T, cfg remote.SSHConfig, h *bed.Host) remote.Host {
	t.Helper()
	host, err := dialer(t, cfg).Dial(context.Background(), bedTarget(t, h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	return host
}

func run(t *testing.T, h remote.Host, script string, args ...string) string {
	t.Helper()
	res, err := h.Run(context.Background(), remote.Cmd{Script: script, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Stdout)
}

// exists reports whether path exists on bed host h, asking as its user.
func exists(t *testing.T, b *bed.Bed, h *bed.Host, path string) bool {
	return strings.TrimSpace(b.RunAs(t, h, `if [ -e "$1" ]; then echo yes; else echo no; fi`, path)) == "yes"
}

// runMarker is what a step would do once connected: create a marker file.
// After a refused host key it must never have run.
func runMarker(ctx context.Context, p *remote.Pool, t inventory.Target, marker string) error {
	h, err := p.Get(ctx, t)
	if err != nil {
		return err
	}
	_, err = h.Run(ctx, remote.Cmd{Script: `touch "$1"`, Args: []string{marker}})
	return err
}

func TestBed(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 2, Jump: true})
	h0, h1 := b.Hosts[0], b.Hosts[1]

	t.Run("key content and file", func(t *testing.T) {
		for _, cfg := range []remote.SSHConfig{
			{KnownHosts: b.KnownHosts, Key: b.ClientKey},
			{KnownHostsFile: b.KnownHostsFile, KeyFile: b.ClientKeyFile},
		} {
			host := bedDial(t, cfg, h0)
			if got, want := host.Name(), h0.User+"@"+bedAddr(h0); got != want {
				t.Errorf("Name() = %q, want %q", got, want)
			}
			if got, want := run(t, host, `id -un; printf %s "$HOME"`), h0.User+"\n"+h0.Home; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
	})

	t.Run("args and exit status through the login shell", func(t *testing.T) {
		host := bedDial(t, bedConfig(b), h0)
		args := []string{"it's", "$(id)", "`id`", "a\nb", "; touch pwned", "*", "-n", ""}
		out := run(t, host, `for a in "$@"; do printf '%s\0' "$a"; done`, args...)
		if got := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(args, "|") {
			t.Errorf("got %q, want %q", got, args)
		}
		if exists(t, b, h0, filepath.Join(h0.Home, "pwned")) {
			t.Error("an argument ran as a command")
		}
		_, err := host.Run(context.Background(), remote.Cmd{Script: `echo "no such release: $1" >&2; exit 4`, Args: []string{"abc"}})
		var ee *remote.ExitError
		if !errors.As(err, &ee) || ee.Code != 4 || ee.Host != host.Name() ||
			!strings.HasPrefix(err.Error(), "exit status 4: ") || !strings.Contains(err.Error(), "no such release: abc") || strings.Contains(err.Error(), host.Name()) {
			t.Errorf("got %v, want exit status 4 from %s (named by the caller, not in the message)", err, host.Name())
		}
	})

	t.Run("unknown host refused before anything runs", func(t *testing.T) {
		cfg := bedConfig(b)
		cfg.KnownHosts = []byte(knownhosts.Line([]string{bedAddr(h1)}, h1.HostKey))
		p := remote.NewPool(dialer(t, cfg))
		defer p.Close()
		marker := filepath.Join(h0.Home, "unknown-host-marker")
		err := runMarker(context.Background(), p, bedTarget(t, h0), marker)
		var hk *remote.HostKeyError
		if !errors.As(err, &hk) || hk.Changed {
			t.Fatalf("got %v, want an unknown host", err)
		}
		if !strings.HasPrefix(err.Error(), "host "+bedAddr(h0)+" is not in known_hosts") ||
			!strings.Contains(err.Error(), fmt.Sprintf("ssh-keyscan -p %d %s", h0.Port, h0.Addr)) {
			t.Errorf("message %q", err)
		}
		if hk.Got != ssh.FingerprintSHA256(h0.HostKey) {
			t.Errorf("got fingerprint %s, want %s", hk.Got, ssh.FingerprintSHA256(h0.HostKey))
		}
		if exists(t, b, h0, marker) {
			t.Error("a command ran on an unknown host")
		}
	})

	t.Run("jump host", func(t *testing.T) {
		j := bedTarget(t, b.Jump)
		cfg := bedConfig(b)
		cfg.Jump = &j
		host := bedDial(t, cfg, h0)
		// sshd of h0 sees the connection come from the jump host's side.
		if got := run(t, host, `id -un; echo "$SSH_CONNECTION" | cut -d' ' -f3`); got != h0.User+"\n"+h0.Addr+"\n" {
			t.Errorf("got %q", got)
		}
		ln := echoListener(t)
		checkEcho(t, host, ln.Addr().String())

		// The jump host's key is verified as well.
		cfg.KnownHosts = []byte(knownhosts.Line([]string{bedAddr(h0)}, h0.HostKey))
		_, err := dialer(t, cfg).Dial(context.Background(), bedTarget(t, h0))
		var hk *remote.HostKeyError
		if !errors.As(err, &hk) || hk.Addr != bedAddr(b.Jump) ||
			!strings.HasPrefix(err.Error(), "connect to "+h0.Target()+" through jump host "+b.Jump.Target()+": host "+bedAddr(b.Jump)+" is not in known_hosts") {
			t.Errorf("got %v, want the jump host refused, both named", err)
		}
	})

	t.Run("direct-tcpip from the host's side", func(t *testing.T) {
		host := bedDial(t, bedConfig(b), h0)
		ln := echoListener(t)
		checkEcho(t, host, ln.Addr().String())
		if _, err := host.DialTCP(context.Background(), "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "dial 127.0.0.1:1 from "+host.Name()) {
			t.Errorf("got %v, want a refused dial naming the host", err)
		}
	})

	t.Run("concurrent runs on one pooled connection", func(t *testing.T) {
		p := remote.NewPool(dialer(t, bedConfig(b)))
		defer p.Close()
		// More than OpenSSH's MaxSessions (10): the rest wait their turn.
		const n = 25
		var wg sync.WaitGroup
		conns := make([]string, n)
		for i := range n {
			wg.Go(func() {
				host, err := p.Get(context.Background(), bedTarget(t, h0))
				if err != nil {
					t.Error(err)
					return
				}
				res, err := host.Run(context.Background(), remote.Cmd{Script: `sleep 0.2; printf '%s %s' "$1" "$SSH_CONNECTION"`, Args: []string{strconv.Itoa(i)}})
				if err != nil {
					t.Error(err)
					return
				}
				num, conn, _ := strings.Cut(string(res.Stdout), " ")
				if num != strconv.Itoa(i) {
					t.Errorf("run %d got output of %s", i, num)
				}
				conns[i] = conn
			})
		}
		wg.Wait()
		for i, c := range conns {
			if c != conns[0] {
				t.Errorf("run %d on connection %q, run 0 on %q: want one connection", i, c, conns[0])
			}
		}
	})

	t.Run("pool dials again after the connection dropped", func(t *testing.T) {
		p := remote.NewPool(dialer(t, bedConfig(b)))
		defer p.Close()
		host, err := p.Get(context.Background(), bedTarget(t, h0))
		if err != nil {
			t.Fatal(err)
		}
		before := run(t, host, `echo "$SSH_CONNECTION"`)
		b.DropConnections(t, h0)
		_, err = host.Run(context.Background(), remote.Cmd{Script: "true"})
		if err == nil || !strings.HasPrefix(err.Error(), "ssh: ") {
			t.Errorf("Run on a dropped connection: %v, want an error of the connection", err)
		}
		host, err = p.Get(context.Background(), bedTarget(t, h0))
		if err != nil {
			t.Fatal(err)
		}
		if after := run(t, host, `echo "$SSH_CONNECTION"`); after == before {
			t.Errorf("same connection %q after the drop", after)
		}
	})

	t.Run("stdin streaming", func(t *testing.T) {
		host := bedDial(t, bedConfig(b), h0)
		data := make([]byte, 8<<20+12345)
		rand.Read(data)
		sum := sha256.Sum256(data)
		file := filepath.Join(h0.Home, "upload.bin")
		res, err := host.Run(context.Background(), remote.Cmd{
			Script: `cat > "$1" && sha256sum < "$1" | cut -d' ' -f1`,
			Args:   []string{file},
			Stdin:  bytes.NewReader(data),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(string(res.Stdout)), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("remote sha256 %s, want %s", got, want)
		}
		// Big output comes back whole, too.
		var out bytes.Buffer
		if _, err := host.Run(context.Background(), remote.Cmd{Script: `cat "$1"`, Args: []string{file}, Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("read back %d bytes, differ from the %d sent", out.Len(), len(data))
		}
	})

	t.Run("cancel ends a long remote command", func(t *testing.T) {
		host := bedDial(t, bedConfig(b), h0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		after := filepath.Join(h0.Home, "after-sleep")
		start := time.Now()
		_, err := host.Run(ctx, remote.Cmd{Script: `sleep 3001; touch "$1"`, Args: []string{after}})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the context's error", err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("Run returned %s after the cancel", d-time.Second)
		}
		// The script's child, not only the script, is gone.
		deadline := time.Now().Add(5 * time.Second)
		for sleeping(t, b, h0, "3001") {
			if time.Now().After(deadline) {
				t.Fatal("remote sleep 3001 still running after the cancel")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if exists(t, b, h0, after) {
			t.Error("the script went on after the cancel")
		}
		// The connection is still good for the next Run.
		run(t, host, "true")
	})

	t.Run("keepalive answered by sshd", func(t *testing.T) {
		cfg := bedConfig(b)
		cfg.KeepAlive = 50 * time.Millisecond
		host := bedDial(t, cfg, h0)
		run(t, host, "sleep 1")
	})

	t.Run("encrypted key with passphrase", func(t *testing.T) {
		key, pub := newClientKey(t, "correct horse")
		b.RunAs(t, h1, `mkdir -p ~/.ssh && printf '%s' "$1" >> ~/.ssh/authorized_keys`, string(ssh.MarshalAuthorizedKey(pub)))
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "id_ed25519")
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := remote.SSHConfig{KnownHosts: b.KnownHosts, KeyFile: keyFile, Passphrase: []byte("correct horse")}
		if got := run(t, bedDial(t, cfg, h1), "id -un"); got != h1.User+"\n" {
			t.Errorf("got %q", got)
		}
		cfg.Passphrase = nil
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "is encrypted and no passphrase was given") {
			t.Errorf("no passphrase: got %v", err)
		}
	})

	// Last: it changes h1's host key for good.
	t.Run("changed host key refused before anything runs", func(t *testing.T) {
		old := h1.HostKey
		b.RegenerateHostKey(t, h1)
		p := remote.NewPool(dialer(t, bedConfig(b)))
		defer p.Close()
		marker := filepath.Join(h1.Home, "changed-key-marker")
		err := runMarker(context.Background(), p, bedTarget(t, h1), marker)
		var hk *remote.HostKeyError
		if !errors.As(err, &hk) || !hk.Changed {
			t.Fatalf("got %v, want a changed host key", err)
		}
		want := fmt.Sprintf("host key of %s changed: got %s, known_hosts has %s; if the server was reinstalled, update known_hosts",
			h1.Target(), ssh.FingerprintSHA256(h1.HostKey), ssh.FingerprintSHA256(old))
		if err.Error() != want {
			t.Errorf("error\n%s\nwant\n%s", err, want)
		}
		if exists(t, b, h1, marker) {
			t.Error("a command ran on a host whose key changed")
		}
	})
}

// sleeping reports whether a "sleep arg" runs as h's user.
func sleeping(t *testing.T, b *bed.Bed, h *bed.Host, arg string) bool {
	out := b.RunAs(t, h, `for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep $1 \$" || true`, arg)
	return strings.TrimSpace(out) != "0"
}

func echoListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln
}

func checkEcho(t *testing.T, h remote.Host, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.DialTCP(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo through %s: %q, %v", h.Name(), buf, err)
	}
}
