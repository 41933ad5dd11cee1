package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func target(t *testing.T, entry string) inventory.Target {
	t.Helper()
	tg, err := inventory.ParseEntry(entry)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func dialer(t *testing.T, cfg remote.SSHConfig) *remote.Dialer {
	t.Helper()
	d, err := remote.NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dial(t *testing.T, d *remote.Dialer, entry string) remote.Host {
	t.Helper()
	h, err := d.Dial(context.Background(), target(t, entry))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// setup is a server and a config that reaches it.
func setup(t *testing.T, hostKeys ...ssh.Signer) (*testServer, remote.SSHConfig) {
	key, pub := newClientKey(t, "")
	s := newTestServer(t, []ssh.PublicKey{pub}, hostKeys...)
	return s, remote.SSHConfig{KnownHosts: []byte(s.KnownHostsLine() + "\n"), Key: key, DefaultUser: "deploy"}
}

func TestRunOverSSH(t *testing.T) {
	s, cfg := setup(t)
	h := dial(t, dialer(t, cfg), s.Addr)
	if got, want := h.Name(), "deploy@"+s.Addr; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	res, err := h.Run(context.Background(), remote.Cmd{
		Script: `printf '%s|' "$0" "$@"; cat`,
		Args:   []string{"it's", "$(id)", ""},
		Stdin:  strings.NewReader("in"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Stdout), "next-deploy|it's|$(id)||in"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}

	_, err = h.Run(context.Background(), remote.Cmd{Script: `echo one >&2; echo two >&2; exit 3`})
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Host != h.Name() || ee.Stderr != "one\ntwo\n" {
		t.Fatalf("got %#v (%v), want exit 3 from %s with stderr", ee, err, h.Name())
	}
	// The caller names the host ("list releases in /app on deploy@...:
	// exit status 3"); the error itself does not, or it would say it twice.
	if want := "exit status 3: one; two"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// With a writer for stderr, ExitError still holds its tail.
	var stderr bytes.Buffer
	_, err = h.Run(context.Background(), remote.Cmd{Script: `echo bad >&2; exit 1`, Stderr: &stderr})
	if !errors.As(err, &ee) || ee.Stderr != "bad\n" || stderr.String() != "bad\n" {
		t.Errorf("stderr to a writer: got %v and %q", err, stderr.String())
	}
}

// Regression guard: a server with ECDSA and Ed25519 host keys, known_hosts
// with the Ed25519 one only. The library prefers ECDSA; without
// HostKeyAlgorithms from known_hosts the good host is "changed".
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	ed := newEd25519(t)
	s, cfg := setup(t, newECDSA(t), ed)
	cfg.KnownHosts = []byte(knownhosts.Line([]string{s.Addr}, ed.PublicKey()))
	h := dial(t, dialer(t, cfg), s.Addr)
	if _, err := h.Run(context.Background(), remote.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	s, cfg := setup(t)
	old := newEd25519(t).PublicKey()
	cfg.KnownHosts = []byte(knownhosts.Line([]string{s.Addr}, old))
	_, err := dialer(t, cfg).Dial(context.Background(), target(t, s.Addr))
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("got %v, want a changed host key", err)
	}
	got, want := ssh.FingerprintSHA256(s.HostKeys[0].PublicKey()), ssh.FingerprintSHA256(old)
	wantMsg := "host key of deploy@" + s.Addr + " changed: got " + got + ", known_hosts has " + want +
		"; if the server was reinstalled, update known_hosts"
	if err.Error() != wantMsg {
		t.Errorf("error\n%s\nwant\n%s", err, wantMsg)
	}
	if n := s.Logins.Load() + s.Execs.Load(); n != 0 {
		t.Errorf("the server saw %d logins or commands after a bad host key", n)
	}
}

func TestUnknownHostRefused(t *testing.T) {
	s, cfg := setup(t)
	other := newTestServer(t, nil)
	cfg.KnownHosts = []byte(other.KnownHostsLine())
	_, err := dialer(t, cfg).Dial(context.Background(), target(t, s.Addr))
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Changed || len(hk.Want) != 0 {
		t.Fatalf("got %v, want an unknown host", err)
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	want := "host " + s.Addr + " is not in known_hosts (it offered " + ssh.FingerprintSHA256(s.HostKeys[0].PublicKey()) +
		"): add its key (ssh-keyscan -p " + port + " " + host + ", verified out of band)"
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if n := s.Logins.Load() + s.Execs.Load(); n != 0 {
		t.Errorf("the server saw %d logins or commands for an unknown host", n)
	}
}

func TestRevokedHostKeyRefused(t *testing.T) {
	s, cfg := setup(t)
	cfg.KnownHosts = append(cfg.KnownHosts, []byte("@revoked * "+string(ssh.MarshalAuthorizedKey(s.HostKeys[0].PublicKey())))...)
	_, err := dialer(t, cfg).Dial(context.Background(), target(t, s.Addr))
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Revoked || !strings.Contains(err.Error(), "@revoked") {
		t.Fatalf("got %v, want a revoked host key", err)
	}
}

func TestLoginRefusedNamesKey(t *testing.T) {
	s, cfg := setup(t)
	other, _ := newClientKey(t, "")
	cfg.Key = other
	_, err := dialer(t, cfg).Dial(context.Background(), target(t, "ops@"+s.Addr))
	signer, _ := ssh.ParsePrivateKey(other)
	for _, want := range []string{"connect to ops@" + s.Addr + ": login as ops refused", ssh.FingerprintSHA256(signer.PublicKey())} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
}

func TestEncryptedKeyAndAgent(t *testing.T) {
	key, pub := newClientKey(t, "s3cret")
	_, agentPub := newClientKey(t, "")
	s := newTestServer(t, []ssh.PublicKey{pub, agentPub})
	kh := []byte(s.KnownHostsLine())

	dial(t, dialer(t, remote.SSHConfig{KnownHosts: kh, Key: key, Passphrase: []byte("s3cret"), DefaultUser: "u"}), s.Addr)

	// An agent holding the other authorized key.
	agentKey, _ := newClientKey(t, "")
	raw, err := ssh.ParseRawPrivateKey(agentKey)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	signers, _ := keyring.Signers()
	s2 := newTestServer(t, []ssh.PublicKey{signers[0].PublicKey()})
	h := dial(t, dialer(t, remote.SSHConfig{KnownHosts: []byte(s2.KnownHostsLine()), Agent: true, AgentSocket: sock, DefaultUser: "u"}), s2.Addr)
	if _, err := h.Run(context.Background(), remote.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	dir := t.TempDir()
	enc, _ := newClientKey(t, "pw")
	encFile := filepath.Join(dir, "enc")
	os.WriteFile(encFile, enc, 0o600)
	plain, pub := newClientKey(t, "")
	badKH := filepath.Join(dir, "known_hosts")
	os.WriteFile(badKH, []byte("# comment\n\nexample.com ssh-ed25519 AAAAnotbase64!!\n"), 0o600)
	for _, tc := range []struct {
		name string
		cfg  remote.SSHConfig
		want []string
	}{
		{"nothing", remote.SSHConfig{}, []string{"no known_hosts given", "no way to log in"}},
		{"missing files", remote.SSHConfig{KnownHostsFile: filepath.Join(dir, "nope"), KeyFile: filepath.Join(dir, "nokey")},
			[]string{"known_hosts file: open " + dir + "/nope: no such file", "private key file: open " + dir + "/nokey: no such file"}},
		{"bad known_hosts line", remote.SSHConfig{KnownHostsFile: badKH, Key: plain},
			[]string{"known_hosts file " + badKH + " line 3: "}},
		{"encrypted, no passphrase", remote.SSHConfig{KnownHosts: []byte("h " + string(ssh.MarshalAuthorizedKey(pub))), KeyFile: encFile},
			[]string{"private key file " + encFile + " is encrypted and no passphrase was given"}},
		{"wrong passphrase", remote.SSHConfig{KnownHosts: []byte("h " + string(ssh.MarshalAuthorizedKey(pub))), Key: enc, Passphrase: []byte("no")},
			[]string{"private key content: the passphrase does not decrypt it"}},
		{"public key as private", remote.SSHConfig{KnownHosts: []byte("h " + string(ssh.MarshalAuthorizedKey(pub))), Key: ssh.MarshalAuthorizedKey(pub)},
			[]string{"private key content: not a usable private key"}},
		{"both key sources", remote.SSHConfig{KnownHosts: []byte("# none\n"), Key: plain, KeyFile: encFile},
			[]string{"known_hosts has no host keys", "private key given both as content and as a file"}},
		{"agent without socket", remote.SSHConfig{KnownHosts: []byte("h " + string(ssh.MarshalAuthorizedKey(pub))), Agent: true, AgentSocket: filepath.Join(dir, "nosock")},
			[]string{"ssh-agent: stat " + dir + "/nosock: no such file"}},
		{"local jump", remote.SSHConfig{KnownHosts: []byte("h " + string(ssh.MarshalAuthorizedKey(pub))), Key: plain, Jump: &inventory.Target{Local: true}},
			[]string{`jump host: "local" is not a jump host`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, remote.ErrConfig) {
				t.Fatalf("got %v, want an ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to say %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tc.want) {
				t.Errorf("%d problems reported, want %d:\n%v", n, len(tc.want), err)
			}
			for _, secret := range [][]byte{plain, enc} {
				if body := secret[40:80]; strings.Contains(err.Error(), string(body)) {
					t.Errorf("error quotes the key: %v", err)
				}
			}
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	_, cfg := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never says a word
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cfg.ConnectTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = dialer(t, cfg).Dial(context.Background(), target(t, ln.Addr().String()))
	if err == nil || !strings.Contains(err.Error(), "connect to deploy@"+ln.Addr().String()+": no login within the connect timeout (300ms)") {
		t.Errorf("got %v, want a connect timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
}

// A Run on a connection whose host vanished without closing it must end:
// the keepalive closes the connection after a few unanswered requests.
func TestKeepAliveEndsRunOnDeadConnection(t *testing.T) {
	s, cfg := setup(t)
	cfg.KeepAlive = 100 * time.Millisecond
	h := dial(t, dialer(t, cfg), s.Addr)
	done := make(chan error, 1)
	go func() {
		_, err := h.Run(context.Background(), remote.Cmd{Script: "sleep 30"})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	s.Stall()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "ssh: connection lost: no answer to keepalive") {
			t.Errorf("got %v, want a lost connection", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still waiting on a dead connection")
	}
}

func TestCancelEndsRun(t *testing.T) {
	s, cfg := setup(t)
	h := dial(t, dialer(t, cfg), s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Run(ctx, remote.Cmd{Script: "sleep 30"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %s after cancel", d)
	}
	if s.Signals.Load() != 1 {
		t.Errorf("%d signal requests, want 1", s.Signals.Load())
	}
}

func TestStdinReadErrorFailsRun(t *testing.T) {
	s, cfg := setup(t)
	h := dial(t, dialer(t, cfg), s.Addr)
	in := io.MultiReader(strings.NewReader("part"), errReader{errors.New("disk on fire")})
	_, err := h.Run(context.Background(), remote.Cmd{Script: "cat >/dev/null", Stdin: in})
	if err == nil || !strings.HasPrefix(err.Error(), "ssh: read stdin: disk on fire") {
		t.Errorf("got %v, want the stdin error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestDialTCPFromHostSide(t *testing.T) {
	s, cfg := setup(t)
	h := dial(t, dialer(t, cfg), s.Addr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := h.DialTCP(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Errorf("got %q, %v", buf, err)
	}
	_, err = h.DialTCP(context.Background(), "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "dial 127.0.0.1:1 from "+h.Name()+": ") {
		t.Errorf("got %v, want a dial error naming the host", err)
	}
}

func TestJumpHost(t *testing.T) {
	key, pub := newClientKey(t, "")
	jump := newTestServer(t, []ssh.PublicKey{pub})
	dest := newTestServer(t, []ssh.PublicKey{pub})
	j := target(t, "bastion@"+jump.Addr)
	cfg := remote.SSHConfig{
		KnownHosts:  []byte(jump.KnownHostsLine() + "\n" + dest.KnownHostsLine() + "\n"),
		Key:         key,
		Jump:        &j,
		DefaultUser: "deploy",
	}
	h := dial(t, dialer(t, cfg), dest.Addr)
	if _, err := h.Run(context.Background(), remote.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	if jump.Execs.Load() != 0 || dest.Execs.Load() != 1 {
		t.Errorf("commands: jump %d, target %d; want 0 and 1", jump.Execs.Load(), dest.Execs.Load())
	}

	// The target's key is checked through the tunnel too.
	cfg.KnownHosts = []byte(jump.KnownHostsLine() + "\n" + knownhosts.Line([]string{dest.Addr}, newEd25519(t).PublicKey()))
	_, err := dialer(t, cfg).Dial(context.Background(), target(t, dest.Addr))
	want := "connect to deploy@" + dest.Addr + " through jump host bastion@" + jump.Addr + ": host key of deploy@" + dest.Addr + " changed"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %q...", err, want)
	}
	// And the jump host's.
	cfg.KnownHosts = []byte(dest.KnownHostsLine())
	_, err = dialer(t, cfg).Dial(context.Background(), target(t, dest.Addr))
	want = "connect to deploy@" + dest.Addr + " through jump host bastion@" + jump.Addr + ": host " + jump.Addr + " is not in known_hosts"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %q...", err, want)
	}
	if dest.Execs.Load() != 1 || dest.Logins.Load() != 1 {
		t.Errorf("the target saw %d logins, %d commands after refused keys; want 1, 1", dest.Logins.Load(), dest.Execs.Load())
	}
}

func TestPoolReusesAndRedials(t *testing.T) {
	s, cfg := setup(t)
	p := remote.NewPool(dialer(t, cfg))
	defer p.Close()
	tg := target(t, s.Addr)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			h, err := p.Get(context.Background(), tg)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := h.Run(context.Background(), remote.Cmd{Script: "sleep 0.1"}); err != nil {
				t.Error(err)
			}
			h.Close() // the pool's: does nothing
		})
	}
	wg.Wait()
	if n := s.Conns.Load(); n != 1 {
		t.Errorf("%d connections for one target, want 1", n)
	}

	s.DropAll()
	time.Sleep(100 * time.Millisecond)
	h, err := p.Get(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Run(context.Background(), remote.Cmd{Script: "true"}); err != nil {
		t.Fatalf("after the connection died: %v", err)
	}
	if n := s.Conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one redial)", n)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(context.Background(), tg); !errors.Is(err, remote.ErrPoolClosed) {
		t.Errorf("Get after Close: %v", err)
	}
}

func TestPoolWithoutDialerServesLocal(t *testing.T) {
	p := remote.NewPool(nil)
	h, err := p.Get(context.Background(), inventory.Target{Local: true})
	if err != nil || h.Name() != "local" {
		t.Fatalf("got %v, %v", h, err)
	}
	if _, err := p.Get(context.Background(), target(t, "a@b:22")); err == nil {
		t.Error("an SSH target without a dialer: no error")
	}
}

// A server allowing fewer sessions than MaxSessions: the extra Runs wait
// for a free slot instead of failing.
func TestRunsWaitForAFreeSession(t *testing.T) {
	s, cfg := setup(t)
	s.MaxSessions.Store(2)
	h := dial(t, dialer(t, cfg), s.Addr)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.Run(context.Background(), remote.Cmd{Script: "sleep 0.05"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestSSHConfigDoesNotPrintSecrets(t *testing.T) {
	key, _ := newClientKey(t, "")
	cfg := remote.SSHConfig{Key: key, Passphrase: []byte("hunter2"), KeyFile: "/k"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, cfg)
		if strings.Contains(out, "hunter2") || strings.Contains(out, string(key[40:70])) || strings.Contains(out, "[") {
			t.Errorf("%s prints %s", verb, out)
		}
	}
}
