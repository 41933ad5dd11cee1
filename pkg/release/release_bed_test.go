package release_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/test/bed"
)

// The lock holder helper: this test binary, re-executed, takes the lock
// over SSH the way a deploy step does and holds it until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("ND_LOCK_HOLDER") == "1" {
		os.Exit(holdLock())
	}
	os.Exit(m.Run())
}

func holdLock() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := dialFromEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer h.Close()
	l := release.Layout{Root: "~/app"}
	k, err := l.Acquire(ctx, h, "holder", "", os.Getpid(), 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	<-ctx.Done()
	// The deferred unlock a step runs on SIGTERM: on a cancelled context.
	if err := k.Unlock(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func dialFromEnv(ctx context.Context) (remote.Host, error) {
	t, err := inventory.ParseEntry(os.Getenv("ND_TARGET"))
	if err != nil {
		return nil, err
	}
	d, err := remote.NewDialer(remote.SSHConfig{
		KnownHostsFile: os.Getenv("ND_KNOWN_HOSTS"),
		KeyFile:        os.Getenv("ND_KEY"),
		ConnectTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	return d.Dial(ctx, t)
}

func dial(t *testing.T, b *bed.Bed, h *bed.Host) remote.Host {
	t.Helper()
	t.Setenv("ND_TARGET", h.Target())
	t.Setenv("ND_KNOWN_HOSTS", b.KnownHostsFile)
	t.Setenv("ND_KEY", b.ClientKeyFile)
	host, err := dialFromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	return host
}

const makeRelease = `mkdir -p ~/app/releases/"$1"/.next-deploy && printf '{"id":"%s","sha256":"%s","time":"2026-01-01T00:00:00Z"}' "$1" "$2" > ~/app/releases/"$1"/.next-deploy/release.json`

// Regression guard for "ln -sfn": current must never be missing while it
// is switched, or nginx and pm2 see a 404 or ENOENT mid-deploy.
func TestSwitchNeverLeavesCurrentMissing(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 1})
	h := b.Hosts[0]
	host := dial(t, b, h)
	for _, id := range []string{"a1", "b2"} {
		b.RunAs(t, h, makeRelease, id, strings.Repeat("0", 64))
	}
	l := release.Layout{Root: "~/app"}
	ctx := context.Background()
	if err := l.Switch(ctx, host, "a1"); err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(h.DeployPath, "current")
	var missing, reads atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			reads.Add(1)
			if _, err := os.Stat(filepath.Join(current, ".next-deploy", "release.json")); err != nil {
				missing.Add(1)
			}
		}
	}()
	const switches = 1000
	for i := range switches {
		id := []string{"b2", "a1"}[i%2]
		if err := l.Switch(ctx, host, id); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("switch %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d switches over SSH, %d reads of current, %d missing", switches, reads.Load(), missing.Load())
	if missing.Load() != 0 {
		t.Errorf("current was missing in %d of %d reads", missing.Load(), reads.Load())
	}
	if reads.Load() < switches {
		t.Errorf("only %d reads during %d switches: the reader did not overlap", reads.Load(), switches)
	}
}

func TestLockAgainstSecondClientAndReleasedOnSIGTERM(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 1})
	h := b.Hosts[0]
	host := dial(t, b, h)
	l := release.Layout{Root: "~/app"}
	ctx := context.Background()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ND_LOCK_HOLDER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder said %q, %v; want locked", line, err)
	}

	_, err = l.Acquire(ctx, host, "second", "", os.Getpid(), 0)
	var le *release.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second client got %v, want LockedError", err)
	}
	if le.Holder.Who != "holder" || le.Holder.PID != cmd.Process.Pid || !strings.Contains(err.Error(), h.Target()) {
		t.Errorf("locked error = %v (holder %+v), want holder pid %d and the host named", err, le.Holder, cmd.Process.Pid)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder exited with %v after SIGTERM, want 0 (lock released)", err)
	}
	k, err := l.Acquire(ctx, host, "second", "", os.Getpid(), 0)
	if err != nil {
		t.Fatalf("lock not released after the holder's SIGTERM: %v", err)
	}
	if err := k.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
