package release

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/remote"
)

// Holder is who holds a deploy lock; it is stored in .next-deploy/lock/info
// (lock.sh takes the lock, unlock.sh releases it).
type Holder struct {
	// Token is random per acquisition.
	Token string `json:"token"`
	Who   string `json:"who"`
	Run   string `json:"run,omitempty"`
	PID   int    `json:"pid"`
	// Since is when the holder took the lock, by its own clock: for
	// people. The lock's age is the server's alone (lock.sh writes the
	// server's time beside the info).
	Since time.Time `json:"since"`
}

// LockedError is a lock held by someone else.
type LockedError struct {
	Host   string
	Root   string
	Holder Holder
	// Age is how long it has been held, by the server's clock.
	Age time.Duration
	// sum is the sha256 of the lock's info: the lock judged, the only one
	// a break of it removes.
	sum string
}

func (e *LockedError) Error() string {
	who := e.Holder.Who
	if e.Holder.Run != "" {
		who += " (" + e.Holder.Run + ")"
	}
	return fmt.Sprintf("deploy lock of %s on %s is held by %s for %s: wait for that deploy to end, or if it died, break the lock with --break-lock-after=%s",
		e.Root, e.Host, who, clock.Format(e.Age.Round(time.Second)), clock.Format((e.Age/2).Round(time.Minute)+time.Minute))
}

// ErrorHost names the host whose lock is held (for the Face's --json).
func (e *LockedError) ErrorHost() string { return e.Host }

// Lock is a held deploy lock.
type Lock struct {
	layout Layout
	host   remote.Host
	Holder Holder
	// sum is the sha256 of the info we wrote: unlock.sh removes the lock
	// only when its info is that.
	sum string
}

// Acquire takes the deploy lock of the host. When it is held, it fails
// with *LockedError, unless breakAfter > 0 and the lock is older than that
// by the server's clock: then that lock, and only that one, is broken and
// the lock taken (lock.sh). When someone else broke or took it meanwhile,
// the lock they hold is judged again, once.
func (l Layout) Acquire(ctx context.Context, h remote.Host, who, run string, pid int, breakAfter time.Duration) (*Lock, error) {
	stale := ""
	for attempt := 0; ; attempt++ {
		holder := Holder{Token: newToken(), Who: who, Run: run, PID: pid, Since: time.Now().UTC()}
		info, err := json.Marshal(holder)
		if err != nil {
			return nil, err
		}
		what := "take deploy lock"
		if stale != "" {
			what = "break stale deploy lock"
		}
		out, err := l.run(ctx, h, what, lockScript, string(info), lockInfo, lockSince, stale)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(out)) == "ACQUIRED" {
			return &Lock{layout: l, host: h, Holder: holder, sum: infoSum(info)}, nil
		}
		lerr, err := parseHeld(out, h.Name(), l.Root)
		if err != nil {
			return nil, fmt.Errorf("take deploy lock in %s on %s: %w", l.Root, h.Name(), err)
		}
		if breakAfter <= 0 || lerr.Age < breakAfter || lerr.sum == "" || attempt > 1 {
			return nil, lerr
		}
		stale = lerr.sum
	}
}

// infoSum is the sha256 of a lock's info file as lock.sh writes it.
func infoSum(info []byte) string {
	s := sha256.Sum256(append(info, '\n'))
	return hex.EncodeToString(s[:])
}

// parseHeld reads lock.sh's HELD answer: the server's time, the lock's
// time by the server's clock, the sha256 of its info and the info.
func parseHeld(out []byte, host, root string) (*LockedError, error) {
	f := strings.Split(strings.TrimRight(string(out), "\r\n"), "\t")
	if len(f) != 5 || f[0] != "HELD" {
		return nil, fmt.Errorf("unexpected answer %q", out)
	}
	now, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("unexpected server time %q", f[1])
	}
	e := &LockedError{Host: host, Root: root, sum: f[3]}
	raw, _ := base64.StdEncoding.DecodeString(f[4])
	if err := json.Unmarshal(bytes.TrimSpace(raw), &e.Holder); err != nil {
		// The info of a lock written by a crashed client may be torn:
		// still a held lock, of unknown holder.
		e.Holder = Holder{Who: "unknown holder"}
	}
	if since, err := strconv.ParseInt(f[2], 10, 64); err == nil {
		// The script reads the clock before the lock's time: a lock made
		// in between is a second "in the future". Not negative.
		e.Age = max(0, time.Duration(now-since)*time.Second)
	}
	return e, nil
}

// Unlock releases the lock. It runs even when ctx is cancelled (SIGINT or
// SIGTERM of our process), on a context of its own with a time limit, so
// an interrupted deploy does not leave its lock behind.
func (k *Lock) Unlock(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := k.layout.run(ctx, k.host, "release deploy lock", unlockScript, k.Holder.Token, k.sum, lockInfo)
	return err
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
