// Package bed is the real multi-host test bed: as root it starts N hosts
// on loopback, each a unix user with an OpenSSH server on its own
// 127.0.0.x address and host key, optionally a pm2 home and an nginx per
// host behind an nginx stream (L4) round-robin balancer, and a bastion.
// It owns their lifecycle: one bed per machine at a time (a file lock),
// teardown by PID when the test ends, and cleanup of what a killed test
// binary left behind. Tests of other packages drive it with the real
// next-deploy code; nothing here is a mock.
package bed

import (
	"crypto/rand"
	"errors"
	"fmt"
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

// Options choose what Start brings up besides the hosts' sshd.
type Options struct {
	Hosts int  // number of hosts, default 2
	PM2   bool // a pm2 home per user; pm2 and node on the ssh session's PATH
	Nginx bool // an nginx per host and an L4 round-robin balancer on 127.0.0.1
	Jump  bool // one more host that is only a bastion (b.Jump)

	// StaticLocation, when set, replaces DefaultStaticLocation in every
	// host's nginx server block (e.g. with `next-deploy config nginx`).
	StaticLocation func(h *Host) string
	// HTTP, when set, replaces the upstream and server blocks of every
	// host's http {} block (e.g. with the whole of `next-deploy config
	// nginx`); StaticLocation is then unused.
	HTTP func(h *Host) string
}

// Bed is a running test bed. Its fields are set by Start; do not change them.
type Bed struct {
	Dir            string // temporary root of this bed (homes, configs, logs)
	Hosts          []*Host
	Jump           *Host  // nil unless Options.Jump
	KnownHostsFile string // known_hosts for every host and the jump host
	KnownHosts     []byte
	ClientKeyFile  string // ed25519 private key, OpenSSH format, no passphrase, 0600
	ClientKey      []byte
	BalancerAddr   string // "127.0.0.1:<port>" when Options.Nginx
	BalancerPID    int
	// SSHConfigFile is an ssh_config naming every host (h0, h1, ..., jump)
	// with the client key and known_hosts: `ssh -F file h0`, `ssh -F file -J jump h1`.
	SSHConfigFile string

	opts        Options
	sessionPath string // PATH of an ssh session on any host
	lock        *os.File

	mu       sync.Mutex // guards what follows and Host.sshd/nginx
	st       state
	balancer *proc
}

// Host is one server of the bed.
type Host struct {
	Index      int    // position in Bed.Hosts; -1 for the jump host
	User       string // unix user, unique per bed, e.g. "ndbx7k2h0"
	Addr       string // 127.0.0.(11+Index); the jump host has 127.0.0.10
	Port       int    // SSHPort
	Home       string // under Bed.Dir
	DeployPath string // Home + "/app": created, owned by User, empty ("" on the jump host)
	PM2Home    string // Home + "/.pm2"
	AppAddr    string // Addr + ":3000": where the host's app is expected to listen ("" on the jump host)
	NginxAddr  string // Addr + ":8080" when Options.Nginx
	HostKey    ssh.PublicKey
	SSHDPID    int // changes with StopSSHD/StartSSHD
	NginxPID   int // when Options.Nginx

	dir      string // root-owned: sshd and nginx configs, keys, logs
	uid, gid int
	sshd     *proc
	nginx    *proc
}

// Name is "h<Index>", or "jump" for the jump host: the host's alias in
// SSHConfigFile.
func (h *Host) Name() string {
	if h.Index < 0 {
		return "jump"
	}
	return "h" + strconv.Itoa(h.Index)
}

// Target is the host as next-deploy takes it: "user@127.0.0.11:2222".
func (h *Host) Target() string {
	return fmt.Sprintf("%s@%s:%d", h.User, h.Addr, h.Port)
}

// HostsFlag is the value of --hosts for every host (not the jump host).
func (b *Bed) HostsFlag() string {
	t := make([]string, len(b.Hosts))
	for i, h := range b.Hosts {
		t[i] = h.Target()
	}
	return strings.Join(t, ",")
}

// all lists the hosts and the jump host.
func (b *Bed) all() []*Host {
	if b.Jump == nil {
		return b.Hosts
	}
	return append(append([]*Host{}, b.Hosts...), b.Jump)
}

// Available says what keeps a full bed (PM2, Nginx, Jump) from running
// on this machine, or nil.
func Available() error {
	return missing(Options{PM2: true, Nginx: true, Jump: true})
}

func missing(opts Options) error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("not root (run: sudo go test ./test/bed)"))
	}
	if p := tool("sshd"); p == "" {
		errs = append(errs, errors.New("no sshd (apt-get install openssh-server)"))
	}
	for _, name := range []string{"useradd", "userdel"} {
		if tool(name) == "" {
			errs = append(errs, fmt.Errorf("no %s (apt-get install passwd)", name))
		}
	}
	if opts.Nginx {
		if _, err := findStream(); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.PM2 {
		for _, name := range []string{"node", "pm2"} {
			if err := reachable(name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reachable checks that every user can run the program: the bed's users
// run it, and a node under /root (nvm) is out of their reach.
func reachable(name string) error {
	p, err := exec.LookPath(name)
	if err != nil {
		hint := ""
		if name == "pm2" {
			hint = " (npm install -g pm2@7.0.4)"
		}
		return fmt.Errorf("no %s on PATH%s", name, hint)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for d := real; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if st.Mode().Perm()&0o001 == 0 && (st.IsDir() || st.Mode().Perm()&0o005 == 0) {
			return fmt.Errorf("%s at %s cannot be run by other users: %s is mode %v", name, real, d, st.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

// SkipOrFail skips the test for reason, except under CI=true where a
// missing tool or privilege is a failure.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	reason = strings.ReplaceAll(reason, "\n", "; ")
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (fails under CI=true) when the test does not run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "the test bed needs root: sudo go test ./...")
	}
}

// Start brings up a bed and registers its teardown with t.Cleanup; if Start
// fails halfway, that teardown removes what it had started. It waits while
// another bed runs on the machine. One test must not hold two beds at once.
func Start(t testing.TB, opts Options) *Bed {
	t.Helper()
	if opts.Hosts == 0 {
		opts.Hosts = 2
	}
	if opts.Hosts < 0 || opts.Hosts > 100 {
		t.Fatalf("bed: %d hosts: want 1 to 100", opts.Hosts)
	}
	if err := missing(opts); err != nil {
		SkipOrFail(t, "test bed unavailable: "+err.Error())
	}
	lock, err := lockBeds(t.Logf)
	if err != nil {
		t.Fatalf("bed: %v", err)
	}
	b := &Bed{opts: opts, lock: lock}
	t.Cleanup(func() { b.teardown(t) })
	if err := cleanLeftovers(t.Logf); err != nil {
		t.Fatalf("bed: %v", err)
	}
	begin := time.Now()
	if err := b.start(); err != nil {
		t.Fatalf("bed: %v", err)
	}
	t.Logf("bed: %d hosts up in %s under %s", len(b.all()), time.Since(begin).Round(time.Millisecond), b.Dir)
	return b
}

func (b *Bed) start() error {
	dir, err := os.MkdirTemp(tempRoot(), dirPrefix)
	if err != nil {
		return err
	}
	b.Dir = dir
	b.st = state{BootID: bootID(), Owner: os.Getpid(), Dir: dir}
	if err := saveState(&b.st); err != nil {
		return err
	}
	// The users' homes are below: every user must be able to traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	b.sessionPath = sessionPath()
	if err := b.makeClientKey(); err != nil {
		return err
	}
	suffix, err := userSuffix()
	if err != nil {
		return err
	}
	for i := range b.opts.Hosts {
		b.Hosts = append(b.Hosts, b.newHost(i, fmt.Sprintf("127.0.0.%d", 11+i), suffix+"h"+strconv.Itoa(i)))
	}
	if b.opts.Jump {
		b.Jump = b.newHost(-1, "127.0.0.10", suffix+"j")
	}
	for _, h := range b.all() {
		if err := b.addHost(h); err != nil {
			return err
		}
	}
	if err := b.writeClientFiles(); err != nil {
		return err
	}
	for _, h := range b.all() {
		if err := b.startSSHD(h); err != nil {
			return err
		}
	}
	if b.opts.Nginx {
		return b.startNginxes()
	}
	return nil
}

// tempRoot is where bed directories go: TMPDIR unless the users cannot
// traverse it (e.g. under /root), then /tmp.
func tempRoot() string {
	for d := os.TempDir(); d != "/"; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
	}
	return os.TempDir()
}

// sessionPath is PATH in the hosts' ssh sessions: node's and pm2's
// directories first (npm -g may live outside the system PATH).
func sessionPath() string {
	var dirs []string
	for _, name := range []string{"node", "pm2"} {
		if p, err := exec.LookPath(name); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	dirs = append(dirs, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return strings.Join(out, ":")
}

// userSuffix is "ndb" and 4 random characters, free in /etc/passwd.
func userSuffix() (string, error) {
	ents, err := readPasswd()
	if err != nil {
		return "", err
	}
	for {
		// rand.Text is base32: [A-Z2-7].
		s := userPrefix + strings.ToLower(rand.Text()[:4])
		if _, taken := lookupUser(ents, s+"h0"); !taken {
			return s, nil
		}
	}
}

func (b *Bed) newHost(index int, addr, user string) *Host {
	home := filepath.Join(b.Dir, "home", user)
	h := &Host{
		Index:   index,
		User:    user,
		Addr:    addr,
		Port:    SSHPort,
		Home:    home,
		PM2Home: filepath.Join(home, ".pm2"),
	}
	h.dir = filepath.Join(b.Dir, h.Name())
	if index >= 0 {
		h.DeployPath = filepath.Join(home, "app")
		h.AppAddr = addr + ":3000"
		if b.opts.Nginx {
			h.NginxAddr = addr + ":8080"
		}
	}
	return h
}

// addHost creates h's user, home, deploy path and sshd configuration.
func (b *Bed) addHost(h *Host) error {
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(h.Home), 0o755); err != nil {
		return err
	}
	// Recorded before useradd: a crash right after it still leaves a trace.
	b.mu.Lock()
	b.st.Users = append(b.st.Users, h.User)
	err := saveState(&b.st)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	e, err := addUser(h.User, h.Home)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name(), err)
	}
	h.uid, h.gid = e.uid, e.gid
	var dirs []string
	if h.DeployPath != "" {
		dirs = append(dirs, h.DeployPath)
	}
	if b.opts.PM2 {
		dirs = append(dirs, h.PM2Home)
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		if err := os.Chown(d, h.uid, h.gid); err != nil {
			return err
		}
	}
	return b.setupSSH(h)
}

func (b *Bed) makeClientKey() error {
	priv, _, err := newKey("next-deploy-bed client")
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	b.ClientKey = priv
	b.ClientKeyFile = filepath.Join(b.Dir, "client_ed25519")
	return os.WriteFile(b.ClientKeyFile, priv, 0o600)
}

// writeClientFiles writes known_hosts and the ssh_config for clients.
func (b *Bed) writeClientFiles() error {
	var kh, cfg strings.Builder
	for _, h := range b.all() {
		kh.WriteString(h.KnownHostsLine() + "\n")
		fmt.Fprintf(&cfg, "Host %s\n\tHostName %s\n\tPort %d\n\tUser %s\n", h.Name(), h.Addr, h.Port, h.User)
	}
	b.KnownHosts = []byte(kh.String())
	b.KnownHostsFile = filepath.Join(b.Dir, "known_hosts")
	b.SSHConfigFile = filepath.Join(b.Dir, "ssh_config")
	fmt.Fprintf(&cfg, `Host *
	IdentityFile %s
	IdentitiesOnly yes
	UserKnownHostsFile %s
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	ConnectTimeout 10
	LogLevel ERROR
`, b.ClientKeyFile, b.KnownHostsFile)
	if err := os.WriteFile(b.KnownHostsFile, b.KnownHosts, 0o644); err != nil {
		return err
	}
	return os.WriteFile(b.SSHConfigFile, []byte(cfg.String()), 0o644)
}

// recordProcs saves the running daemons to the state file.
func (b *Bed) recordProcs() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []procID
	for _, h := range b.all() {
		for _, p := range []*proc{h.sshd, h.nginx} {
			if p != nil {
				ids = append(ids, p.id)
			}
		}
	}
	if b.balancer != nil {
		ids = append(ids, b.balancer.id)
	}
	b.st.Procs = ids
	return saveState(&b.st)
}
