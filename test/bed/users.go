package bed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

func readPasswd() ([]passwdEntry, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []passwdEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
	}
	return out, sc.Err()
}

func lookupUser(ents []passwdEntry, name string) (passwdEntry, bool) {
	for _, e := range ents {
		if e.name == name {
			return e, true
		}
	}
	return passwdEntry{}, false
}

// tool finds an administration program even when PATH lacks the sbin
// directories (sudo keeps them, a plain `su` may not).
func tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func runTool(name string, args ...string) error {
	path := tool(name)
	if path == "" {
		return fmt.Errorf("%s: not found", name)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// addUser creates a user with its home at home. The password "*" keeps
// the account unlocked (useradd's default "!" locks it, and sshd with
// UsePAM no refuses locked accounts even for key logins) while no
// password can ever match.
func addUser(name, home string) (passwdEntry, error) {
	err := runTool("useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash",
		"--password", "*", "--comment", "next-deploy test bed", name)
	if err != nil {
		return passwdEntry{}, err
	}
	ents, err := readPasswd()
	if err != nil {
		return passwdEntry{}, err
	}
	e, ok := lookupUser(ents, name)
	if !ok {
		return passwdEntry{}, fmt.Errorf("useradd %s: user missing from /etc/passwd", name)
	}
	return e, nil
}

// userProcs lists the processes whose real user is uid, zombies included
// (userdel counts them too).
func userProcs(uid int) (live, zombies []int) {
	ents, _ := os.ReadDir("/proc")
	want := "\t" + strconv.Itoa(uid) + "\t"
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Uid:") {
				if strings.HasPrefix(line[4:]+"\t", want) {
					if s, err := readStat(pid); err == nil && s.state == 'Z' {
						zombies = append(zombies, pid)
					} else {
						live = append(live, pid)
					}
				}
				break
			}
		}
	}
	return live, zombies
}

// killUserProcs SIGKILLs every process of uid until none runs. Zombies
// are left to their parent (often init) to reap: they hold nothing.
func killUserProcs(uid int) error {
	var live []int
	if poll(10*time.Second, func() bool {
		live, _ = userProcs(uid)
		for _, pid := range live {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return len(live) == 0
	}) {
		return nil
	}
	return fmt.Errorf("processes of uid %d survive SIGKILL: %v", uid, live)
}

// removeUser kills the user's processes and deletes the user and its
// group. The home directory is left to the caller (it is under the bed
// directory).
func removeUser(e passwdEntry) error {
	if !bedUser.MatchString(e.name) {
		return fmt.Errorf("refusing to delete user %s: not a bed user", e.name)
	}
	errKill := killUserProcs(e.uid)
	err := runTool("userdel", e.name)
	if err != nil {
		// userdel counts zombies as users of the account: a pm2 daemon
		// that init has not reaped yet. -f deletes the user anyway.
		err = runTool("userdel", "--force", e.name)
	}
	if inBedDir(e.home) {
		err = errors.Join(err, os.RemoveAll(e.home))
	}
	if err = errors.Join(errKill, err); err != nil {
		return fmt.Errorf("remove user %s: %w", e.name, err)
	}
	return nil
}

// Env returns the environment a command gets in an ssh session on h: the
// same HOME, USER, PATH and PM2_HOME.
func (b *Bed) Env(h *Host) []string {
	return []string{
		"HOME=" + h.Home,
		"USER=" + h.User,
		"LOGNAME=" + h.User,
		"SHELL=/bin/bash",
		"PATH=" + b.sessionPath,
		"PM2_HOME=" + h.PM2Home,
		"LANG=C.UTF-8",
	}
}

// CommandAs returns a command that runs argv as h's user, in its home,
// with the environment of an ssh session (see Env).
func (b *Bed) CommandAs(h *Host, argv ...string) *exec.Cmd {
	return b.commandAs(context.Background(), h, argv...)
}

func (b *Bed) commandAs(ctx context.Context, h *Host, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = b.Env(h)
	cmd.Dir = h.Home
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(h.uid), Gid: uint32(h.gid), Groups: []uint32{}},
	}
	return cmd
}

// TryRunAs runs `sh -c script sh args...` as h's user (see CommandAs) and
// returns its output. Unlike RunAs it is safe in any goroutine.
func (b *Bed) TryRunAs(h *Host, script string, args ...string) (stdout, stderr string, err error) {
	cmd := b.CommandAs(h, append([]string{"/bin/sh", "-c", script, "sh"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("run as %s: %w", h.User, err)
	}
	return o.String(), e.String(), err
}

// RunAs runs `sh -c script sh args...` as h's user locally, the way an
// ssh session would (HOME, PATH, PM2_HOME, cwd = home): "$1" is the first
// of args. It fails the test on a non-zero exit and returns stdout. Call
// it from the test's goroutine; elsewhere use TryRunAs.
func (b *Bed) RunAs(t testing.TB, h *Host, script string, args ...string) string {
	t.Helper()
	out, errOut, err := b.TryRunAs(h, script, args...)
	if err != nil {
		t.Fatalf("%s: %v\nscript: %s\nstderr: %s", h.Name(), err, script, errOut)
	}
	return out
}
