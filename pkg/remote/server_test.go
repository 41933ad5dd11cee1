package remote_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process SSH server for fast tests of the client's
// error paths. Like sshd, it runs exec requests with /bin/sh -c in a
// session of their own, sends a "signal" request to the session's process
// group (OpenSSH's killpg), and opens direct-tcpip channels.
type testServer struct {
	t        *testing.T
	ln       net.Listener
	Addr     string // 127.0.0.1:port
	HostKeys []ssh.Signer

	Conns   atomic.Int64 // TCP connections accepted
	Logins  atomic.Int64 // public keys offered
	Execs   atomic.Int64 // commands started
	Signals atomic.Int64 // signal requests received

	// MaxSessions, when set, refuses sessions beyond it per connection,
	// as OpenSSH's MaxSessions does.
	MaxSessions atomic.Int64

	mu      sync.Mutex
	stalled chan struct{} // non-nil: connections stop reading
	open    []net.Conn
}

// newTestServer starts a server with the given host keys (ed25519 when
// none) that lets in the holders of authorized.
func newTestServer(t *testing.T, authorized []ssh.PublicKey, hostKeys ...ssh.Signer) *testServer {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []ssh.Signer{newEd25519(t)}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, Addr: ln.Addr().String(), HostKeys: hostKeys}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.Logins.Add(1)
			for _, a := range authorized {
				if string(a.Marshal()) == string(key.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("not authorized")
		},
	}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	go s.serve(cfg)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and drops every connection.
func (s *testServer) Close() {
	s.ln.Close()
	s.DropAll()
	s.Resume()
}

// DropAll closes every connection, as a restarted server would.
func (s *testServer) DropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}

// Stall makes the server stop reading its connections: a host that
// vanished without closing them.
func (s *testServer) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled == nil {
		s.stalled = make(chan struct{})
	}
}

// Resume undoes Stall.
func (s *testServer) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled != nil {
		close(s.stalled)
		s.stalled = nil
	}
}

func (s *testServer) gate() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}

type stallConn struct {
	net.Conn
	s *testServer
}

func (c stallConn) Read(p []byte) (int, error) {
	if g := c.s.gate(); g != nil {
		<-g
	}
	return c.Conn.Read(p)
}

func (s *testServer) serve(cfg *ssh.ServerConfig) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.Conns.Add(1)
		s.mu.Lock()
		s.open = append(s.open, c)
		s.mu.Unlock()
		go s.handle(stallConn{c, s}, cfg)
	}
}

func (s *testServer) handle(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs) // answers keepalives with "failure"
	var sessions atomic.Int64
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			if lim := s.MaxSessions.Load(); lim > 0 && sessions.Load() >= lim {
				nc.Reject(ssh.ConnectionFailed, "open failed")
				continue
			}
			ch, reqs, err := nc.Accept()
			if err == nil {
				sessions.Add(1)
				go func() {
					s.session(ch, reqs)
					sessions.Add(-1)
				}()
			}
		case "direct-tcpip":
			go s.directTCPIP(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	var (
		mu  sync.Mutex
		cmd *exec.Cmd
	)
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			s.Execs.Add(1)
			c := exec.Command("/bin/sh", "-c", p.Command)
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			c.Stdout, c.Stderr = ch, ch.Stderr()
			in, err := c.StdinPipe()
			if err == nil {
				err = c.Start()
			}
			if err != nil {
				req.Reply(false, nil)
				continue
			}
			mu.Lock()
			cmd = c
			mu.Unlock()
			req.Reply(true, nil)
			go func() {
				io.Copy(in, ch)
				in.Close()
			}()
			go func() {
				c.Wait()
				ws := c.ProcessState.Sys().(syscall.WaitStatus)
				if ws.Signaled() {
					ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
						Signal     string
						CoreDumped bool
						Error      string
						Lang       string
					}{Signal: "TERM"}))
				} else {
					ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(ws.ExitStatus())}))
				}
				ch.Close()
			}()
		case "signal":
			s.Signals.Add(1)
			mu.Lock()
			if cmd != nil {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			}
			mu.Unlock()
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

func (s *testServer) directTCPIP(nc ssh.NewChannel) {
	var p struct {
		Addr     string
		Port     uint32
		OrigAddr string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	c, err := net.Dial("tcp", net.JoinHostPort(p.Addr, strconv.Itoa(int(p.Port))))
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		io.Copy(ch, c)
		ch.CloseWrite()
	}()
	io.Copy(c, ch)
	c.(*net.TCPConn).CloseWrite()
}

// KnownHostsLine is the known_hosts line for the server's first host key.
func (s *testServer) KnownHostsLine() string {
	return knownhosts.Line([]string{s.Addr}, s.HostKeys[0].PublicKey())
}

func newEd25519(t *testing.T) ssh.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newECDSA(t *testing.T) ssh.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newClientKey returns an ed25519 private key in OpenSSH format, encrypted
// when passphrase is not empty, and its public key.
func newClientKey(t *testing.T, passphrase string) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sp
}
