package bed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procID names one process instance: a PID alone can be reused, a PID with
// its start time (clock ticks since boot) cannot within one boot.
type procID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// procStat is what the bed reads from /proc/<pid>/stat.
type procStat struct {
	state byte
	ppid  int
	pgrp  int
	start uint64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	var s procStat
	s.state = f[0][0]
	s.ppid, _ = strconv.Atoi(f[1])
	s.pgrp, _ = strconv.Atoi(f[2])
	s.start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: start time: %w", pid, err)
	}
	return s, nil
}

// allProcs returns the stat of every process on the machine.
func allProcs() map[int]procStat {
	ents, _ := os.ReadDir("/proc")
	m := make(map[int]procStat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readStat(pid); err == nil {
			m[pid] = s
		}
	}
	return m
}

// alive reports whether the process still runs (a zombie does not).
func (id procID) alive() bool {
	s, err := readStat(id.PID)
	return err == nil && s.start == id.Start && s.state != 'Z'
}

func (id procID) signal(sig syscall.Signal) {
	if id.alive() {
		_ = syscall.Kill(id.PID, sig)
	}
}

// family returns the processes that belong to the roots: the roots
// themselves, the members of their process groups (nginx workers stay in
// their master's group even when the master is gone) and all their
// descendants (sshd sessions call setsid but keep their parent).
func family(roots ...procID) []procID {
	ps := allProcs()
	in := map[int]bool{}
	var out []procID
	add := func(pid int) {
		if !in[pid] {
			in[pid] = true
			out = append(out, procID{pid, ps[pid].start})
		}
	}
	for _, r := range roots {
		if s, ok := ps[r.PID]; ok && s.start == r.Start {
			add(r.PID)
		}
		// A group ID is not reused while the group has members, and a
		// member started after the leader: both guard against taking a
		// stranger's process for ours.
		for pid, s := range ps {
			if s.pgrp == r.PID && s.start >= r.Start {
				add(pid)
			}
		}
	}
	for grew := true; grew; {
		grew = false
		for pid, s := range ps {
			if !in[pid] && in[s.ppid] && s.ppid > 1 {
				add(pid)
				grew = true
			}
		}
	}
	return out
}

// killFamily sends SIGTERM to the family of roots, waits up to grace for
// it to exit, then SIGKILLs what is left and waits again.
func killFamily(grace time.Duration, roots ...procID) error {
	fam := family(roots...)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, p := range fam {
			p.signal(sig)
		}
		if waitGone(grace, fam) {
			return nil
		}
		// Children forked between the scan and the signal.
		fam = family(append(roots, fam...)...)
	}
	var left []string
	for _, p := range fam {
		if p.alive() {
			left = append(left, strconv.Itoa(p.PID))
		}
	}
	if len(left) == 0 {
		return nil
	}
	return fmt.Errorf("processes %s survived SIGKILL", strings.Join(left, ", "))
}

func waitGone(d time.Duration, ps []procID) bool {
	return poll(d, func() bool {
		for _, p := range ps {
			if p.alive() {
				return false
			}
		}
		return true
	})
}

// poll calls done until it returns true or d has passed; it reports
// whether done returned true.
func poll(d time.Duration, done func() bool) bool {
	deadline := time.Now().Add(d)
	for wait := 5 * time.Millisecond; ; {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// proc is a daemon the bed started (sshd, nginx), in its own process
// group, logging to a file.
type proc struct {
	name    string
	id      procID
	logPath string
	done    chan struct{} // closed once the process is reaped
	err     error         // exit status, valid after done
}

func startProc(name, logPath string, argv ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = filepath.Dir(logPath)
	// Its own group: a signal to the test's group (Ctrl-C) must not reach
	// it before the teardown does, and the teardown can find its workers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, id: procID{PID: cmd.Process.Pid}, logPath: logPath, done: make(chan struct{})}
	if s, err := readStat(p.id.PID); err == nil {
		p.id.Start = s.start
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process, its group and its descendants.
func (p *proc) stop() error {
	err := killFamily(5*time.Second, p.id)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		err = errors.Join(err, fmt.Errorf("%s (pid %d) not reaped", p.name, p.id.PID))
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	return nil
}

// diedErr describes an early exit with the end of the process's log.
func (p *proc) diedErr() error {
	return fmt.Errorf("%s exited: %v; log %s:\n%s", p.name, p.err, p.logPath, tail(p.logPath, 15))
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitListening waits until addr accepts TCP connections while p runs;
// check, when set, vets the accepted connection (an SSH banner).
func waitListening(p *proc, addr string, check func(net.Conn) error) error {
	var last error
	ok := poll(10*time.Second, func() bool {
		if p.exited() {
			return true
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			last = err
			return false
		}
		defer c.Close()
		if check != nil {
			if err := check(c); err != nil {
				last = err
				return false
			}
		}
		return true
	})
	if p.exited() {
		return p.diedErr()
	}
	if !ok {
		return fmt.Errorf("%s does not accept connections on %s after 10s: %v; log:\n%s", p.name, addr, last, tail(p.logPath, 15))
	}
	return nil
}

// ensureFree fails when something already listens on addr: the readiness
// check would otherwise mistake a stranger for our daemon.
func ensureFree(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%s is already in use by another program", addr)
}
