package pm2

import (
	"time"
)

// A new worker that starts but never gets ready (its server never
// listens: stuck on a database at start, or listening elsewhere) loses a
// reload every worker as surely as a crash loop does: pm2 stops the old
// worker after listen_timeout whether or not its replacement is ready,
// then the next one, and nothing serves. The drain preload reports when
// the app listens (Proc.Ready); the watched reload gives up on a new
// worker that has not well before listen_timeout, as it does on a crash
// loop: Rescue switches current back, and the worker is killed, so that
// pm2 restarts it from current (the previous release), whose 'ready' lets
// the reload go on. No old worker is stopped without a working
// replacement.

// defaultListenTimeout is pm2's listen_timeout when an app sets none
// (GRACEFUL_LISTEN_TIMEOUT).
const defaultListenTimeout = 3 * time.Second

// rescueTime is what giving up on a worker takes before pm2's
// listen_timeout: switching current back, killing the worker, and pm2
// restarting it on the previous release until that listens.
const rescueTime = 6 * time.Second

// unreadyAfter is how long a new worker may stay unready, as seen by a
// watcher looking every poll, before it is given up: early enough for
// the rescue to be done before pm2's listen_timeout (a look may come a
// poll late and take a while), and never less than half of it.
func unreadyAfter(listen, poll time.Duration) time.Duration {
	if listen <= 0 {
		listen = defaultListenTimeout
	}
	return max(listen-2*poll-rescueTime, listen/2)
}

// Unready returns the workers of ours that started during the reload
// (their pid is not the one their key had before it), whose preload
// reports them not listening, and that were first seen longer ago than
// their listen_timeout allows (unreadyAfter). seen records when each new
// worker was first seen; at is now. A worker without a report (no
// preload, or one that does not say) is never given up on: nothing tells
// whether it is ready.
func (s *Site) Unready(now []Proc, before map[string]int, seen map[int]time.Time, at time.Time, poll time.Duration) []Proc {
	var out []Proc
	for _, p := range s.Ours(now) {
		if p.PID <= 0 || p.PID == before[p.Key()] || p.Status != "online" {
			continue
		}
		first, ok := seen[p.PID]
		if !ok {
			seen[p.PID] = at
			continue
		}
		if p.Ready == nil || *p.Ready {
			continue
		}
		if at.Sub(first) > unreadyAfter(p.ListenTimeout, poll) {
			out = append(out, p)
		}
	}
	return out
}
