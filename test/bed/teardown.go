package bed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// teardown stops everything the bed started, in the order that lets each
// part go quietly: pm2 (it would restart apps killed under it), nginx,
// sshd, then whatever the users still run, then the users and files.
// It copes with a bed that Start left halfway.
func (b *Bed) teardown(t testing.TB) {
	defer b.lock.Close() // releases the flock
	if b.Dir == "" {
		return // nothing was started or recorded
	}
	if t.Failed() {
		b.dumpLogs(t)
	}
	begin := time.Now()
	defer func() { t.Logf("bed: torn down in %s", time.Since(begin).Round(time.Millisecond)) }()
	b.killPM2(t)
	var errs []error
	b.mu.Lock()
	procs := []*proc{b.balancer}
	b.balancer = nil
	for _, h := range b.all() {
		procs = append(procs, h.nginx, h.sshd)
		h.nginx, h.sshd = nil, nil
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	perr := make([]error, len(procs))
	for i, p := range procs {
		if p != nil {
			wg.Go(func() { perr[i] = p.stop() })
		}
	}
	wg.Wait()
	errs = append(errs, perr...)
	if err := b.recordProcs(); err != nil {
		errs = append(errs, err)
	}

	ents, err := readPasswd()
	errs = append(errs, err)
	var kept []string
	for _, u := range b.st.Users {
		if e, ok := lookupUser(ents, u); ok {
			if err := removeUser(e); err != nil {
				errs = append(errs, err)
				kept = append(kept, u)
			}
		}
	}
	b.mu.Lock()
	b.st.Users = kept
	b.mu.Unlock()
	if err := b.recordProcs(); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(b.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("bed teardown (the next bed retries; state in %s): %v", statePath, err)
		return
	}
	if err := os.Remove(statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bed teardown: %v", err)
	}
}

// killPM2 runs `pm2 kill` for every user whose pm2 daemon was started, so
// that pm2 stops its apps itself instead of respawning them while they are
// killed. Whatever survives dies with the user's other processes.
func (b *Bed) killPM2(t testing.TB) {
	pm2 := tool("pm2")
	var wg sync.WaitGroup
	for _, h := range b.all() {
		if h.uid == 0 || pm2 == "" {
			continue
		}
		// Any pm2 command starts a daemon: only ask a running one to stop.
		if _, err := os.Stat(filepath.Join(h.PM2Home, "pm2.pid")); err != nil {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := b.commandAs(ctx, h, pm2, "kill")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("bed: pm2 kill as %s: %v\n%s", h.User, err, out)
			}
		})
	}
	wg.Wait()
}

// dumpLogs shows the end of every daemon's log after a failed test.
func (b *Bed) dumpLogs(t testing.TB) {
	logs := []string{filepath.Join(b.Dir, "balancer", "logs", "error.log")}
	for _, h := range b.all() {
		logs = append(logs, filepath.Join(h.dir, "sshd.log"), filepath.Join(h.dir, "nginx", "logs", "error.log"))
	}
	for _, l := range logs {
		if _, err := os.Stat(l); err == nil {
			t.Logf("bed: %s:\n%s", l, tail(l, 20))
		}
	}
}
