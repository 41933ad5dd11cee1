package bed

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHPort is the port every host's sshd listens on.
const SSHPort = 2222

// newKey returns a fresh ed25519 key as an unencrypted OpenSSH private key
// file and its public key.
func newKey(comment string) ([]byte, ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), sshPub, nil
}

// writeHostKey gives h a new host key on disk (sshd reads it at start).
func (h *Host) writeHostKey() error {
	priv, pub, err := newKey("next-deploy-bed " + h.Name())
	if err != nil {
		return fmt.Errorf("host key for %s: %w", h.Name(), err)
	}
	if err := writeFileAtomic(h.hostKeyFile(), priv, 0o600); err != nil {
		return fmt.Errorf("host key for %s: %w", h.Name(), err)
	}
	h.HostKey = pub
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// KnownHostsLine is h's known_hosts entry for its current host key.
func (h *Host) KnownHostsLine() string {
	return fmt.Sprintf("[%s]:%d %s", h.Addr, h.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.HostKey))))
}

func (h *Host) hostKeyFile() string { return filepath.Join(h.dir, "ssh_host_ed25519_key") }
func (h *Host) sshdConfig() string  { return filepath.Join(h.dir, "sshd_config") }

// quoteSSHD quotes a value for sshd_config (double quotes, no escapes).
func quoteSSHD(s string) (string, error) {
	if strings.ContainsAny(s, "\"\n\\") {
		return "", fmt.Errorf("cannot quote %q for sshd_config", s)
	}
	return `"` + s + `"`, nil
}

// sshdConfigText is the sshd_config of h.
func (b *Bed) sshdConfigText(h *Host) (string, error) {
	path, err := quoteSSHD("PATH=" + b.sessionPath)
	if err != nil {
		return "", err
	}
	pm2, err := quoteSSHD("PM2_HOME=" + h.PM2Home)
	if err != nil {
		return "", err
	}
	extra := ""
	if sshdHasPenalties() {
		// OpenSSH 9.8+ blocks a source address after failed logins; the
		// "wrong key" tests would lock 127.0.0.1 out for everyone.
		extra = "PerSourcePenalties no\n"
	}
	return fmt.Sprintf(`# next-deploy test bed: %s
ListenAddress %s:%d
HostKey %s
PidFile %s
AllowUsers %s
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
MaxSessions 50
MaxStartups 100
LoginGraceTime 30
SetEnv %s %s
Subsystem sftp internal-sftp
LogLevel INFO
%s`, h.Name(), h.Addr, h.Port, h.hostKeyFile(), filepath.Join(h.dir, "sshd.pid"), h.User, path, pm2, extra), nil
}

var (
	penaltiesOnce sync.Once
	penalties     bool
)

// sshdHasPenalties reports whether this sshd knows PerSourcePenalties
// (an unknown option makes sshd refuse to start).
func sshdHasPenalties() bool {
	penaltiesOnce.Do(func() {
		dir, err := os.MkdirTemp("", dirPrefix+"probe-")
		if err != nil {
			return
		}
		defer os.RemoveAll(dir)
		priv, _, err := newKey("probe")
		if err != nil {
			return
		}
		key := filepath.Join(dir, "key")
		cfg := filepath.Join(dir, "sshd_config")
		if os.WriteFile(key, priv, 0o600) != nil ||
			os.WriteFile(cfg, []byte("HostKey "+key+"\nPerSourcePenalties no\n"), 0o644) != nil {
			return
		}
		penalties = exec.Command(tool("sshd"), "-t", "-f", cfg).Run() == nil
	})
	return penalties
}

// setupSSH prepares h's user for key login: ~/.ssh/authorized_keys.
func (b *Bed) setupSSH(h *Host) error {
	dir := filepath.Join(h.Home, ".ssh")
	pub, err := ssh.ParsePrivateKey(b.ClientKey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ak := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ak, ssh.MarshalAuthorizedKey(pub.PublicKey()), 0o600); err != nil {
		return err
	}
	for _, p := range []string{dir, ak} {
		if err := os.Chown(p, h.uid, h.gid); err != nil {
			return err
		}
	}
	if err := h.writeHostKey(); err != nil {
		return err
	}
	text, err := b.sshdConfigText(h)
	if err != nil {
		return fmt.Errorf("sshd_config for %s: %w", h.Name(), err)
	}
	return os.WriteFile(h.sshdConfig(), []byte(text), 0o644)
}

// startSSHD starts h's sshd and waits until it greets with an SSH banner.
func (b *Bed) startSSHD(h *Host) error {
	addr := net.JoinHostPort(h.Addr, strconv.Itoa(h.Port))
	if err := ensureFree(addr); err != nil {
		return fmt.Errorf("start sshd for %s: %w", h.Name(), err)
	}
	// sshd's privilege separation needs this directory (systemd creates
	// it for the system's sshd; a machine without one may lack it).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	p, err := startProc("sshd "+h.Name(), filepath.Join(h.dir, "sshd.log"),
		tool("sshd"), "-D", "-e", "-f", h.sshdConfig())
	if err != nil {
		return err
	}
	b.mu.Lock()
	h.sshd = p
	h.SSHDPID = p.id.PID
	b.mu.Unlock()
	if err := b.recordProcs(); err != nil {
		return err
	}
	return waitListening(p, addr, func(c net.Conn) error {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "SSH-2.0-") {
			return fmt.Errorf("no SSH banner: %q", line)
		}
		return nil
	})
}

// stopSSHD stops h's sshd and every session it serves.
func (b *Bed) stopSSHD(h *Host) error {
	b.mu.Lock()
	p := h.sshd
	h.sshd = nil
	b.mu.Unlock()
	if p == nil {
		return nil
	}
	err := p.stop()
	if rerr := b.recordProcs(); err == nil {
		err = rerr
	}
	return err
}

// StopSSHD stops h's sshd and cuts every open connection to it, as if the
// server went away: new connections are refused until StartSSHD.
func (b *Bed) StopSSHD(t testing.TB, h *Host) {
	t.Helper()
	if err := b.stopSSHD(h); err != nil {
		t.Fatalf("%s: %v", h.Name(), err)
	}
}

// StartSSHD starts h's sshd again after StopSSHD (h.SSHDPID changes).
func (b *Bed) StartSSHD(t testing.TB, h *Host) {
	t.Helper()
	if err := b.startSSHD(h); err != nil {
		t.Fatalf("%s: %v", h.Name(), err)
	}
}

// RestartSSHD is StopSSHD followed by StartSSHD.
func (b *Bed) RestartSSHD(t testing.TB, h *Host) {
	t.Helper()
	b.StopSSHD(t, h)
	b.StartSSHD(t, h)
}

// DropConnections cuts every open SSH connection to h; the sshd keeps
// listening, so a client can reconnect at once.
func (b *Bed) DropConnections(t testing.TB, h *Host) {
	t.Helper()
	b.mu.Lock()
	p := h.sshd
	b.mu.Unlock()
	if p == nil {
		t.Fatalf("%s: sshd is not running", h.Name())
	}
	var sessions []procID
	for _, q := range family(p.id) {
		if q != p.id {
			sessions = append(sessions, q)
		}
	}
	if err := killFamily(5*time.Second, sessions...); err != nil {
		t.Fatalf("%s: drop connections: %v", h.Name(), err)
	}
}

// RegenerateHostKey gives h a new host key and restarts its sshd: clients
// holding b.KnownHosts now see a changed host key. h.HostKey and
// h.KnownHostsLine() describe the new key; b.KnownHosts keeps the old one.
func (b *Bed) RegenerateHostKey(t testing.TB, h *Host) {
	t.Helper()
	b.StopSSHD(t, h)
	if err := h.writeHostKey(); err != nil {
		t.Fatal(err)
	}
	b.StartSSHD(t, h)
}
