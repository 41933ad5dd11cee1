// Package barrier owns barrier-wait: waiting until every member of a group
// is ready. A Plan says what to poll and how to speak of it: Hosts judges
// every host's releases against the release id and artifact checksum, Jobs
// judges the matrix jobs of a workflow run (listed by ghapi) by their
// delivery step. Wait polls a plan until all are ready, one has failed
// (waiting longer would not help) or the time is up, and says who is still
// missing as progress lines. Time is behind a clock.Clock, so tests never
// sleep.
package barrier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/clock"
)

// State is where one member stands.
type State string

// States of a member.
const (
	// Ready: the member is done; it stays done.
	Ready State = "ready"
	// Waiting: not yet, or not known this round (unreachable for a moment).
	Waiting State = "waiting"
	// Failed: the member will never be ready; Wait stops at once.
	Failed State = "failed"
)

// Member is one member's state, with why in Detail ("no release abc1234
// yet", "step deliver concluded failure").
type Member struct {
	Name   string `json:"name"`
	State  State  `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Status is the group as one poll saw it. Wait fills in Round, Elapsed
// and Err; a Poll sets only Members.
type Status struct {
	Members []Member `json:"members"`
	// Round is the number of the poll, from 1.
	Round int `json:"-"`
	// Elapsed is the time since Wait started, on its Clock.
	Elapsed time.Duration `json:"-"`
	// Err is set when this round's poll failed as a whole (a transient
	// error, retried); Members are then those of the last good poll.
	Err error `json:"-"`
}

// Done reports whether every member is ready. A group with no members is
// never done: nothing to wait for is a mistake, not a success.
func (s Status) Done() bool {
	if len(s.Members) == 0 {
		return false
	}
	for _, m := range s.Members {
		if m.State != Ready {
			return false
		}
	}
	return true
}

// In returns the members in state st, in order.
func (s Status) In(st State) []Member {
	var out []Member
	for _, m := range s.Members {
		if m.State == st {
			out = append(out, m)
		}
	}
	return out
}

// Names returns the names of the members in state st.
func (s Status) Names(st State) []string {
	var out []string
	for _, m := range s.In(st) {
		out = append(out, m.Name)
	}
	return out
}

// Describe lists members with their details: "b (no release yet), c".
func Describe(ms []Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Name
		if m.Detail != "" {
			parts[i] += " (" + m.Detail + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// Poll looks once at every member. An error means this look failed as a
// whole and is retried on the next round, unless it is Permanent.
type Poll func(ctx context.Context) (Status, error)

// Options tune Wait.
type Options struct {
	// Interval is the pause between two polls (default 5s).
	Interval time.Duration
	// Timeout is how long to wait in all (required, > 0).
	Timeout time.Duration
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Progress, when set, is called after every round that does not end
	// the wait, including rounds whose poll failed (Status.Err set).
	Progress func(Status)
	// Say, when set, gets progress lines for a person: who is still
	// missing when that changes, and every sixth round while it does not;
	// and every failed look (see Lines).
	Say func(line string)
}

// DefaultInterval is the pause between polls when Options.Interval is 0.
const DefaultInterval = 5 * time.Second

// ErrTimeout is wrapped by a *TimeoutError.
var ErrTimeout = errors.New("timed out")

// TimeoutError is a wait that ran out of time: a result, not bad input.
type TimeoutError struct {
	After time.Duration
	// Status is the last known status; Status.Err the last poll's error,
	// when the last poll failed.
	Status Status
}

func (e *TimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "timed out after %s", clock.Format(e.After))
	if w := e.Status.In(Waiting); len(w) > 0 {
		fmt.Fprintf(&b, "; %d of %d not ready: %s", len(w), len(e.Status.Members), Describe(w))
	} else if len(e.Status.Members) == 0 {
		b.WriteString("; no member known")
	}
	if e.Status.Err != nil {
		fmt.Fprintf(&b, "; last poll failed: %v", e.Status.Err)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns the last poll's error, if any.
func (e *TimeoutError) Unwrap() error { return e.Status.Err }

// ErrFailed is wrapped by a *FailedError.
var ErrFailed = errors.New("member failed")

// FailedError is a wait stopped because members failed.
type FailedError struct{ Status Status }

func (e *FailedError) Error() string {
	f := e.Status.In(Failed)
	return fmt.Sprintf("%d of %d failed: %s", len(f), len(e.Status.Members), Describe(f))
}

// Is makes errors.Is(err, ErrFailed) true.
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// permanentError marks a poll error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks a poll error that retrying cannot fix (bad credentials,
// no such run): Wait returns it at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Wait polls p until every member is ready (nil error), a member failed
// (*FailedError), the timeout passed (*TimeoutError), a poll failed
// permanently (that error, unwrapped from Permanent) or ctx is done (its
// error); a non-nil error is wrapped once, naming p.Subject and ending in
// the hint that fits. It always returns the last known status. Each poll
// gets a context that ends at the deadline, so a hung host cannot hold
// the wait past it; the last poll, made at the deadline, gets one more
// interval (at most 30s) to answer.
func Wait(ctx context.Context, p Plan, opts Options) (Status, error) {
	if opts.Timeout <= 0 {
		return Status{}, fmt.Errorf("barrier timeout %s: want more than 0", clock.Format(opts.Timeout))
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Say != nil {
		noun := p.Noun
		if noun == "" {
			noun = "members"
		}
		opts.Progress = both(opts.Progress, Lines(noun, opts.Say))
	}
	st, err := wait(ctx, p.Poll, opts)
	return st, p.explain(err)
}

// wait is Wait's loop over a checked opts.
func wait(ctx context.Context, poll Poll, opts Options) (Status, error) {
	clk, interval := opts.Clock, opts.Interval
	start := clk.Now()
	deadline := start.Add(opts.Timeout)
	var last Status
	for round := 1; ; round++ {
		st, err := pollOnce(ctx, poll, max(deadline.Sub(clk.Now()), min(interval, 30*time.Second)))
		if err != nil {
			var p *permanentError
			if errors.As(err, &p) {
				last.Round, last.Elapsed, last.Err = round, clk.Now().Sub(start), p.err
				return last, p.err
			}
			if ctx.Err() != nil {
				return last, context.Cause(ctx)
			}
			// A poll cut off at the deadline says less than the error
			// before it ("connection refused"): keep that one.
			if errors.Is(err, context.DeadlineExceeded) && last.Err != nil {
				err = last.Err
			}
			st = Status{Members: last.Members, Err: err}
		}
		st.Round, st.Elapsed = round, clk.Now().Sub(start)
		last = st
		if st.Err == nil {
			if len(st.In(Failed)) > 0 {
				return st, &FailedError{Status: st}
			}
			if st.Done() {
				return st, nil
			}
		}
		remaining := deadline.Sub(clk.Now())
		if remaining <= 0 {
			return st, &TimeoutError{After: opts.Timeout, Status: st}
		}
		if opts.Progress != nil {
			opts.Progress(st)
		}
		if err := clk.Sleep(ctx, min(interval, remaining)); err != nil {
			return st, err
		}
	}
}

// pollOnce runs one poll with at most limit to answer.
func pollOnce(ctx context.Context, poll Poll, limit time.Duration) (Status, error) {
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return poll(pctx)
}
