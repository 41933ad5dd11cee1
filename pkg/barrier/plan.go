package barrier

import (
	"errors"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/clock"
)

// Plan is one barrier-wait: what to poll, and how to speak of it. Hosts
// and Jobs make one; a test may make its own of any Poll.
type Plan struct {
	Poll Poll
	// Noun names the members in progress lines: "hosts", "jobs" (default
	// "members").
	Noun string
	// Title says what is awaited, for the head of a result table:
	// "release abc1234 in /app".
	Title string
	// Subject, when set, heads Wait's error: "release abc1234 is not on
	// every host".
	Subject string
	// TimeoutHint and FailHint say what to do after a timeout or a
	// failed member; they end Wait's error.
	TimeoutHint, FailHint string
}

// explain wraps err naming what was awaited and what to do about it.
func (p Plan) explain(err error) error {
	switch {
	case err == nil || p.Subject == "":
		return err
	case errors.Is(err, ErrTimeout) && p.TimeoutHint != "":
		return fmt.Errorf("%s: %w; %s", p.Subject, err, p.TimeoutHint)
	case errors.Is(err, ErrFailed) && p.FailHint != "":
		return fmt.Errorf("%s: %w; %s", p.Subject, err, p.FailHint)
	}
	return fmt.Errorf("%s: %w", p.Subject, err)
}

// Lines returns a Progress that says, for a person, who is still missing
// (the members named by noun): when that changes, and every sixth round
// (once a minute at barrier-wait's default 10s interval) while it
// does not; and every failed look. Lines start with the elapsed time:
// "[40s] waiting for 1 of 2 hosts: b (no release abc1234 yet)".
func Lines(noun string, say func(line string)) func(Status) {
	var last string
	var unchanged int
	return func(st Status) {
		at := clock.Format(st.Elapsed.Round(time.Second))
		if st.Err != nil {
			say(fmt.Sprintf("[%s] look %d failed, retrying: %v", at, st.Round, st.Err))
			return
		}
		w := st.In(Waiting)
		line := fmt.Sprintf("waiting for %d of %d %s: %s", len(w), len(st.Members), noun, Describe(w))
		if line == last {
			if unchanged++; unchanged%6 != 0 {
				return
			}
		} else {
			unchanged = 0
		}
		last = line
		say(fmt.Sprintf("[%s] %s", at, line))
	}
}

// both calls f then g; either may be nil.
func both(f, g func(Status)) func(Status) {
	if f == nil {
		return g
	}
	return func(st Status) { f(st); g(st) }
}
