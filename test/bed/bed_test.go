package bed_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// ssh runs the real OpenSSH client against h with the bed's key and
// known_hosts, strict host key checking, and no user or system config.
func ssh(b *bed.Bed, h *bed.Host, command string) *exec.Cmd {
	return exec.Command("ssh", "-F", "/dev/null",
		"-i", b.ClientKeyFile, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+b.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-p", strconv.Itoa(h.Port), h.User+"@"+h.Addr, command)
}

func output(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return string(out)
}

// serveName answers every request on h's app address with h's name: the
// stand-in for the host's pm2 app.
func serveName(t *testing.T, h *bed.Host) {
	l, err := net.Listen("tcp", h.AppAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, h.Name())
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// leftovers are what the bed must leave no trace of.
type leftovers struct {
	users []string
	pids  []int
	dir   string
}

func TestBed(t *testing.T) {
	bed.RequireRoot(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		bed.SkipOrFail(t, "no ssh client (apt-get install openssh-client)")
	}
	var left leftovers
	t.Run("up", func(t *testing.T) {
		b := bed.Start(t, bed.Options{Hosts: 2, Jump: true, Nginx: true, PM2: true})
		left.dir = b.Dir
		for _, h := range append([]*bed.Host{b.Jump}, b.Hosts...) {
			left.users = append(left.users, h.User)
			left.pids = append(left.pids, h.SSHDPID)
		}
		left.pids = append(left.pids, b.BalancerPID)
		t.Run("ssh", func(t *testing.T) { testSSH(t, b, &left) })
		t.Run("runas", func(t *testing.T) { testRunAs(t, b) })
		t.Run("balancer", func(t *testing.T) { testBalancer(t, b, &left) })
		t.Run("static", func(t *testing.T) { testStatic(t, b) })
		t.Run("hostkey", func(t *testing.T) { testHostKeyChanged(t, b, &left) })
		t.Run("cut", func(t *testing.T) { testCut(t, b, &left) })
	})
	// The bed of "up" is torn down now.
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range left.users {
		if bytes.Contains(passwd, []byte("\n"+u+":")) {
			t.Errorf("user %s still in /etc/passwd", u)
		}
	}
	for _, pid := range left.pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !isZombie(b) {
			t.Errorf("process %d still runs: %s", pid, b)
		}
	}
	if _, err := os.Stat(left.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bed directory %s: %v, want it removed", left.dir, err)
	}
	if _, err := os.Stat("/tmp/next-deploy-bed.state"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file: %v, want it removed", err)
	}
	f, err := os.Open("/tmp/next-deploy-bed.lock")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("flock: %v", err)
	} else if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	// EWOULDBLOCK: another package's bed got the lock meanwhile; fine.
}

func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] == 'Z'
}

var semver = regexp.MustCompile(`(?m)^\d+\.\d+\.\d+$`)

// testSSH logs in with OpenSSH to every host, checks pm2 over a
// non-interactive session and hops through the bastion.
func testSSH(t *testing.T, b *bed.Bed, left *leftovers) {
	got := output(t, ssh(b, b.Jump, "echo ok"))
	if got != "ok\n" {
		t.Errorf("jump: got %q, want ok", got)
	}
	for _, h := range b.Hosts {
		got := output(t, ssh(b, h, "echo ok; pm2 --version"))
		if !strings.HasPrefix(got, "ok\n") || !semver.MatchString(got) {
			t.Errorf("%s: got %q, want ok and pm2's version", h.Name(), got)
		}
		pid, err := os.ReadFile(filepath.Join(h.PM2Home, "pm2.pid"))
		if err != nil {
			t.Fatalf("%s: pm2 daemon not under PM2_HOME: %v", h.Name(), err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
		left.pids = append(left.pids, n)
		env := output(t, ssh(b, h, `echo "$PM2_HOME $(id -un) $PWD"`))
		if want := fmt.Sprintf("%s %s %s\n", h.PM2Home, h.User, h.Home); env != want {
			t.Errorf("%s: session env %q, want %q", h.Name(), env, want)
		}
	}
	got = output(t, exec.Command("ssh", "-F", b.SSHConfigFile, "-J", "jump", "h1", "echo via-jump"))
	if got != "via-jump\n" {
		t.Errorf("through the jump host: got %q", got)
	}
}

func testRunAs(t *testing.T, b *bed.Bed) {
	h := b.Hosts[0]
	got := b.RunAs(t, h, `printf '%s|%s|%s|%s' "$(id -un)" "$HOME" "$PM2_HOME" "$1"`, "a b")
	if want := h.User + "|" + h.Home + "|" + h.PM2Home + "|a b"; got != want {
		t.Errorf("RunAs: got %q, want %q", got, want)
	}
	if _, _, err := b.TryRunAs(h, "exit 3"); err == nil {
		t.Error("TryRunAs of a failing script: no error")
	}
	st, err := os.Stat(h.DeployPath)
	if err != nil || !st.IsDir() {
		t.Fatalf("deploy path: %v", err)
	}
	if owner := b.RunAs(t, h, `stat -c %U "$1"`, h.DeployPath); owner != h.User+"\n" {
		t.Errorf("deploy path owned by %q", owner)
	}
}

// testBalancer checks that each host's nginx proxies to its app and that
// the balancer alternates between the hosts, one TCP connection each.
func testBalancer(t *testing.T, b *bed.Bed, left *leftovers) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for _, h := range b.Hosts {
		left.pids = append(left.pids, h.NginxPID)
		serveName(t, h)
		if _, got := get(t, c, "http://"+h.NginxAddr+"/"); got != h.Name() {
			t.Errorf("%s's nginx answered %q", h.Name(), got)
		}
	}
	var seen []string
	for range 6 {
		code, got := get(t, c, "http://"+b.BalancerAddr+"/")
		if code != 200 {
			t.Fatalf("balancer: status %d", code)
		}
		seen = append(seen, got)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Errorf("balancer did not alternate: %v", seen)
			break
		}
	}
}

// testStatic checks the static location: a release's own chunk, the
// fallback to current for a release that is gone, and 404 for the rest.
func testStatic(t *testing.T, b *bed.Bed) {
	h := b.Hosts[0]
	b.RunAs(t, h, `set -e
cd "$1"
mkdir -p releases/r1/.next/static/chunks releases/r2/.next/static/chunks
echo r1-chunk > releases/r1/.next/static/chunks/a.js
echo r2-chunk > releases/r2/.next/static/chunks/a.js
ln -s releases/r2 current`, h.DeployPath)
	c := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/r1/_next/static/chunks/a.js", 200, "r1-chunk\n"},
		{"/r2/_next/static/chunks/a.js", 200, "r2-chunk\n"},
		{"/gone7/_next/static/chunks/a.js", 200, "r2-chunk\n"},
		{"/r1/_next/static/chunks/missing.js", 404, ""},
	} {
		code, body := get(t, c, "http://"+h.NginxAddr+tc.path)
		if code != tc.code || (tc.code == 200 && body != tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}

func testHostKeyChanged(t *testing.T, b *bed.Bed, left *leftovers) {
	h := b.Hosts[1]
	old := h.HostKey
	b.RegenerateHostKey(t, h)
	left.pids = append(left.pids, h.SSHDPID)
	if bytes.Equal(old.Marshal(), h.HostKey.Marshal()) {
		t.Fatal("host key unchanged")
	}
	out, err := ssh(b, h, "echo ok").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh with the old known_hosts: %v\n%s", err, out)
	}
}

// openSession starts a long ssh session on h and returns a channel that
// receives its end.
func openSession(t *testing.T, b *bed.Bed, h *bed.Host) <-chan error {
	t.Helper()
	long := ssh(b, h, "echo started; exec sleep 60")
	stdout, err := long.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { long.Process.Kill() })
	// The session is open once it printed.
	if _, err := io.ReadFull(stdout, make([]byte, len("started\n"))); err != nil {
		long.Process.Kill()
		t.Fatalf("long session: %v (%v)", err, long.Wait())
	}
	done := make(chan error, 1)
	go func() {
		io.Copy(io.Discard, stdout)
		done <- long.Wait()
	}()
	return done
}

func waitCut(t *testing.T, what string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("session survived %s", what)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("session still open 20s after %s", what)
	}
}

// testCut checks that DropConnections cuts open sessions and keeps
// listening, that StopSSHD cuts them and refuses new ones, and that
// StartSSHD brings the host back.
func testCut(t *testing.T, b *bed.Bed, left *leftovers) {
	h := b.Hosts[0]
	done := openSession(t, b, h)
	pid := h.SSHDPID
	b.DropConnections(t, h)
	waitCut(t, "DropConnections", done)
	if h.SSHDPID != pid {
		t.Errorf("DropConnections restarted sshd")
	}
	if got := output(t, ssh(b, h, "echo again")); got != "again\n" {
		t.Errorf("after DropConnections: %q", got)
	}

	done = openSession(t, b, h)
	b.StopSSHD(t, h)
	waitCut(t, "StopSSHD", done)
	if c, err := net.Dial("tcp", net.JoinHostPort(h.Addr, strconv.Itoa(h.Port))); err == nil {
		c.Close()
		t.Error("port accepts connections after StopSSHD")
	}
	b.StartSSHD(t, h)
	left.pids = append(left.pids, h.SSHDPID)
	if got := output(t, ssh(b, h, "echo back")); got != "back\n" {
		t.Errorf("after StartSSHD: %q", got)
	}
}

// crashReport is what TestCrashedBedChild tells its parent.
type crashReport struct {
	Dir   string
	Users []string
	PIDs  []int
}

// TestCrashedBedChild is the child of TestCrashedBedIsCleanedUp: it starts
// a bed, reports it and waits to be SIGKILLed, skipping its teardown.
func TestCrashedBedChild(t *testing.T) {
	if os.Getenv("BED_CRASH_CHILD") != "1" {
		t.Skip("helper of TestCrashedBedIsCleanedUp")
	}
	b := bed.Start(t, bed.Options{Hosts: 1, Nginx: true, PM2: true})
	h := b.Hosts[0]
	pm2 := b.RunAs(t, h, `pm2 ping >/dev/null && cat "$PM2_HOME/pm2.pid"`)
	pm2PID, err := strconv.Atoi(strings.TrimSpace(pm2))
	if err != nil {
		t.Fatal(err)
	}
	// The processes a bed starts, with nginx workers (same group).
	pids := append(group(h.NginxPID), append(group(b.BalancerPID), h.SSHDPID, pm2PID)...)
	json.NewEncoder(os.Stdout).Encode(crashReport{Dir: b.Dir, Users: []string{h.User}, PIDs: pids})
	// Wait for SIGKILL; should the parent die first, stdin ends and the
	// bed is torn down as usual.
	io.Copy(io.Discard, os.Stdin)
}

// group lists the live processes of process group pgid.
func group(pgid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || isZombie(stat) {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !isZombie(stat)
}

// Regression guard: a test binary killed mid-test (timeout, Ctrl-C twice)
// skips its cleanup; its sshd, nginx, pm2 and users must not block or
// confuse the next bed.
func TestCrashedBedIsCleanedUp(t *testing.T) {
	bed.RequireRoot(t)
	if err := bed.Available(); err != nil {
		bed.SkipOrFail(t, err.Error())
	}
	child := exec.Command(os.Args[0], "-test.run=^TestCrashedBedChild$", "-test.v")
	child.Env = append(os.Environ(), "BED_CRASH_CHILD=1")
	child.Stderr = os.Stderr
	if _, err := child.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	var rep crashReport
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &rep) == nil && rep.Dir != "" {
			break
		}
	}
	if rep.Dir == "" {
		t.Fatalf("child reported no bed: %v", sc.Err())
	}
	for _, pid := range rep.PIDs {
		if !running(pid) {
			t.Fatalf("process %d of the child's bed is not running: the test proves nothing", pid)
		}
	}
	// Once it is dead another package's bed may get the lock first and
	// clean up: the checks below hold either way.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	b := bed.Start(t, bed.Options{Hosts: 1, Nginx: true})
	for _, pid := range rep.PIDs {
		if running(pid) {
			t.Errorf("process %d of the crashed bed still runs", pid)
		}
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	for _, u := range rep.Users {
		if bytes.Contains(passwd, []byte("\n"+u+":")) {
			t.Errorf("user %s of the crashed bed still exists", u)
		}
	}
	if _, err := os.Stat(rep.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s of the crashed bed: %v, want it removed", rep.Dir, err)
	}
	// And the new bed works on the same addresses.
	if got := output(t, ssh(b, b.Hosts[0], "echo ok")); got != "ok\n" {
		t.Errorf("new bed: %q", got)
	}
}

// fakeTB records what Start reports instead of ending the test, so that a
// failing Start can be observed; Fatalf ends only the calling goroutine.
type fakeTB struct {
	testing.TB // the real test, for Logf
	mu         sync.Mutex
	cleanups   []func()
	fatal      string
	errs       []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeTB) Failed() bool      { f.mu.Lock(); defer f.mu.Unlock(); return f.fatal != "" }
func (f *fakeTB) Skip(args ...any)  { f.Fatalf("skipped: %s", fmt.Sprint(args...)) }
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Error(args ...any) { f.Errorf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// readState returns the bed state file as Start wrote it.
func readState(t *testing.T) (st struct {
	Dir   string
	Users []string
	Procs []struct{ PID int }
}) {
	t.Helper()
	b, err := os.ReadFile("/tmp/next-deploy-bed.state")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Regression guard: a Start that fails halfway (here: nginx refuses its
// configuration after the user and sshd exist) must remove what it started.
func TestFailedStartCleansUp(t *testing.T) {
	bed.RequireRoot(t)
	if err := bed.Available(); err != nil {
		bed.SkipOrFail(t, err.Error())
	}
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		bed.Start(f, bed.Options{Hosts: 1, Nginx: true, StaticLocation: func(*bed.Host) string {
			return "no_such_directive on;"
		}})
	}()
	<-done
	if !strings.Contains(f.fatal, "no_such_directive") {
		t.Fatalf("Start failed with %q, want nginx's complaint about the configuration", f.fatal)
	}
	// Still under the bed lock: the state names what Start made.
	st := readState(t)
	if len(st.Users) != 1 || len(st.Procs) == 0 {
		t.Fatalf("state %+v: want a user and the sshd recorded", st)
	}
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	if len(f.errs) > 0 {
		t.Errorf("teardown: %v", f.errs)
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	if bytes.Contains(passwd, []byte("\n"+st.Users[0]+":")) {
		t.Errorf("user %s left behind", st.Users[0])
	}
	for _, p := range st.Procs {
		if running(p.PID) {
			t.Errorf("process %d left behind", p.PID)
		}
	}
	if _, err := os.Stat(st.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s: %v, want it removed", st.Dir, err)
	}
}
