package release

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// wrapTool puts a script named tool first on PATH for the scripts the
// local host runs: body runs with $real set to the tool it stands in for.
func wrapTool(t *testing.T, tool, body string) {
	t.Helper()
	real, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("no %s: %v", tool, err)
	}
	dir := t.TempDir()
	script := "#!/bin/sh\nreal=" + real + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// ageLock rewrites the lock under root as if taken at server time
// since, by a holder whose own clock said runner.
func ageLock(t *testing.T, root string, since, runner time.Time) {
	t.Helper()
	dir := filepath.Join(root, StateDir, LockDir)
	b, err := os.ReadFile(filepath.Join(dir, lockInfo))
	if err != nil {
		t.Fatal(err)
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	h.Since = runner
	b, _ = json.Marshal(h)
	if err := os.WriteFile(filepath.Join(dir, lockInfo), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lockSince), []byte(strconv.FormatInt(since.Unix(), 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// heldBy is the token in the lock's info on disk.
func heldBy(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, StateDir, LockDir, lockInfo))
	if err != nil {
		t.Fatal(err)
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Token
}

// Regression (issue 13 item 7): a lock's age was the server's time less
// the holder's own clock (Holder.Since), so a runner whose clock ran
// behind had its fresh lock broken, and one whose clock ran ahead left a
// dead lock nobody could break. The age is the server's alone.
func TestLockAgeIsTheServersAlone(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name          string
		since, runner time.Time
		broken        bool
	}{
		{"fresh, the holder's clock 3h behind", now, now.Add(-3 * time.Hour), false},
		{"fresh, the holder's clock far ahead", now, now.Add(100 * 365 * 24 * time.Hour), false},
		{"2h old, the holder's clock far ahead", now.Add(-2 * time.Hour), now.Add(100 * 365 * 24 * time.Hour), true},
		{"2h old, the holder's clock right", now.Add(-2 * time.Hour), now.Add(-2 * time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root, h := newLocal(t)
			ctx := context.Background()
			if _, err := l.Acquire(ctx, h, "alice", "", 1, 0); err != nil {
				t.Fatal(err)
			}
			ageLock(t, root, tc.since, tc.runner)
			k, err := l.Acquire(ctx, h, "bob", "", 2, time.Hour)
			var le *LockedError
			switch {
			case tc.broken && err != nil:
				t.Errorf("Acquire(break after 1h) = %v, want the stale lock broken", err)
			case !tc.broken && !errors.As(err, &le):
				t.Errorf("Acquire(break after 1h) = %v, want a LockedError (fresh by the server)", err)
			case !tc.broken && le.Age > time.Minute:
				t.Errorf("age = %s, want the server's (seconds)", le.Age)
			case tc.broken && heldBy(t, root) != k.Holder.Token:
				t.Error("the lock on disk is not the breaker's")
			}
		})
	}
}

// Regression (issue 13 item 7): breaking a stale lock checked its token,
// then moved it, in two steps: of two clients breaking the same stale
// lock, the second could remove the lock the first had just taken, and
// both held it. A slow mv widens every window between steps.
func TestTwoBreakersOfAStaleLock(t *testing.T) {
	wrapTool(t, "mv", `n=$(od -An -N1 -tu1 /dev/urandom)
sleep "0.$(printf '%03d' $((n % 20)))"
exec "$real" "$@"`)
	l, root, h := newLocal(t)
	ctx := context.Background()
	for i := range 50 {
		if _, err := l.Acquire(ctx, h, "dead", "", 1, 0); err != nil {
			t.Fatal(err)
		}
		ageLock(t, root, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour))
		var (
			wg    sync.WaitGroup
			locks [2]*Lock
			errs  [2]error
		)
		for j := range locks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				locks[j], errs[j] = l.Acquire(ctx, h, "breaker "+strconv.Itoa(j), "", 2+j, time.Hour)
			}()
		}
		wg.Wait()
		var won []*Lock
		for j, k := range locks {
			var le *LockedError
			switch {
			case k != nil:
				won = append(won, k)
			case !errors.As(errs[j], &le):
				t.Fatalf("round %d: breaker %d: %v, want the lock or a LockedError", i, j, errs[j])
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d breakers hold the lock, want exactly 1", i, len(won))
		}
		if got := heldBy(t, root); got != won[0].Holder.Token {
			t.Fatalf("round %d: the lock on disk is %s, not the winner's %s", i, got, won[0].Holder.Token)
		}
		if err := won[0].Unlock(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}
