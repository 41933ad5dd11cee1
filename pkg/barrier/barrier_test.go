package barrier

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
)

// answer is one poll's result.
type answer struct {
	st  Status
	err error
}

// script answers polls in order, then repeats its last answer.
func script(answers ...answer) (Poll, *int) {
	n := new(int)
	return func(context.Context) (Status, error) {
		a := answers[min(*n, len(answers)-1)]
		*n++
		return a.st, a.err
	}, n
}

func members(states ...string) Status {
	var st Status
	for _, s := range states {
		name, state, _ := strings.Cut(s, "=")
		st.Members = append(st.Members, Member{Name: name, State: State(state)})
	}
	return st
}

var (
	errFlaky = errors.New("dial b:22: connection refused")
	errAuth  = errors.New("401 bad credentials")
)

func TestWait(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answers   []answer
		timeout   time.Duration
		interval  time.Duration
		wantErr   error // errors.Is target; nil: success
		wantPolls int
		wantSlept []time.Duration
		// wantProgress is, per Progress call, the waiting names or "err".
		wantProgress []string
		wantInMsg    []string
	}{
		{
			name:      "all ready at once",
			answers:   []answer{{st: members("a=ready", "b=ready")}},
			timeout:   time.Minute,
			wantPolls: 1,
		},
		{
			name: "waiting, then ready",
			answers: []answer{
				{st: members("a=ready", "b=waiting", "c=waiting")},
				{st: members("a=ready", "b=ready", "c=waiting")},
				{st: members("a=ready", "b=ready", "c=ready")},
			},
			timeout:      time.Minute,
			interval:     10 * time.Second,
			wantPolls:    3,
			wantSlept:    []time.Duration{10 * time.Second, 10 * time.Second},
			wantProgress: []string{"b,c", "c"},
		},
		{
			name: "a failed member stops the wait at once",
			answers: []answer{
				{st: members("a=waiting", "b=waiting")},
				{st: members("a=failed", "b=waiting")},
			},
			timeout:      time.Hour,
			interval:     time.Second,
			wantErr:      ErrFailed,
			wantPolls:    2,
			wantSlept:    []time.Duration{time.Second},
			wantProgress: []string{"a,b"},
			wantInMsg:    []string{"1 of 2 failed: a"},
		},
		{
			name:         "timeout names who is missing; the last poll is at the deadline",
			answers:      []answer{{st: members("a=ready", "b=waiting")}},
			timeout:      30 * time.Second,
			interval:     10 * time.Second,
			wantErr:      ErrTimeout,
			wantPolls:    4,
			wantSlept:    []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second},
			wantProgress: []string{"b", "b", "b"},
			wantInMsg:    []string{"timed out after 30s", "1 of 2 not ready: b"},
		},
		{
			name:         "the last sleep is cut to the deadline",
			answers:      []answer{{st: members("a=waiting")}},
			timeout:      25 * time.Second,
			interval:     10 * time.Second,
			wantErr:      ErrTimeout,
			wantPolls:    4,
			wantSlept:    []time.Duration{10 * time.Second, 10 * time.Second, 5 * time.Second},
			wantProgress: []string{"a", "a", "a"},
		},
		{
			name: "a transient poll error is reported and retried",
			answers: []answer{
				{st: members("a=waiting")},
				{err: errFlaky},
				{st: members("a=ready")},
			},
			timeout:      time.Minute,
			interval:     time.Second,
			wantPolls:    3,
			wantSlept:    []time.Duration{time.Second, time.Second},
			wantProgress: []string{"a", "err"},
		},
		{
			name:         "transient errors until the timeout: the last one is named",
			answers:      []answer{{err: errFlaky}},
			timeout:      2 * time.Second,
			interval:     time.Second,
			wantErr:      errFlaky,
			wantPolls:    3,
			wantSlept:    []time.Duration{time.Second, time.Second},
			wantProgress: []string{"err", "err"},
			wantInMsg:    []string{"timed out after 2s", "no member known", "last poll failed: dial b:22"},
		},
		{
			name:      "a permanent error stops the wait at once",
			answers:   []answer{{err: Permanent(errAuth)}},
			timeout:   time.Hour,
			wantErr:   errAuth,
			wantPolls: 1,
			wantInMsg: []string{"401 bad credentials"},
		},
		{
			// Regression: an empty group must not count as "everyone ready".
			name:         "no members is never done",
			answers:      []answer{{st: Status{}}},
			timeout:      time.Second,
			interval:     time.Second,
			wantErr:      ErrTimeout,
			wantPolls:    2,
			wantSlept:    []time.Duration{time.Second},
			wantProgress: []string{""},
			wantInMsg:    []string{"no member known"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
			poll, polls := script(tc.answers...)
			var progress []string
			st, err := Wait(context.Background(), Plan{Poll: poll}, Options{
				Interval: tc.interval,
				Timeout:  tc.timeout,
				Clock:    clk,
				Progress: func(st Status) {
					if st.Err != nil {
						progress = append(progress, "err")
						return
					}
					progress = append(progress, strings.Join(st.Names(Waiting), ","))
				},
			})
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Wait: %v, want success", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Wait error = %v, want one that is %v", err, tc.wantErr)
			}
			if got, want := *polls, tc.wantPolls; got != want {
				t.Errorf("polls = %d, want %d", got, want)
			}
			if got, want := st.Round, tc.wantPolls; got != want {
				t.Errorf("Status.Round = %d, want %d", got, want)
			}
			if got, want := clk.Sleeps(), tc.wantSlept; !reflect.DeepEqual(got, want) {
				t.Errorf("slept %v, want %v", got, want)
			}
			if got, want := progress, tc.wantProgress; !reflect.DeepEqual(got, want) {
				t.Errorf("progress %q, want %q", got, want)
			}
			for _, m := range tc.wantInMsg {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not mention %q", err, m)
				}
			}
		})
	}
}

func TestWaitKeepsLastMembersOnTransientError(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	poll, _ := script(answer{st: members("a=ready", "b=waiting")}, answer{err: errFlaky})
	st, err := Wait(context.Background(), Plan{Poll: poll}, Options{Timeout: 10 * time.Second, Interval: 5 * time.Second, Clock: clk})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want a *TimeoutError", err)
	}
	if got, want := st.Names(Waiting), []string{"b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("waiting after a failed poll = %v, want the last known %v", got, want)
	}
	if !errors.Is(st.Err, errFlaky) {
		t.Errorf("Status.Err = %v, want %v", st.Err, errFlaky)
	}
	if got, want := st.Elapsed, 10*time.Second; got != want {
		t.Errorf("Elapsed = %s, want %s (on the fake clock)", got, want)
	}
}

func TestWaitKeepsTheTellingErrorOverACutOffPoll(t *testing.T) {
	poll, _ := script(answer{err: errFlaky}, answer{err: context.DeadlineExceeded})
	_, err := Wait(context.Background(), Plan{Poll: poll}, Options{Timeout: time.Second, Interval: time.Second, Clock: clock.NewFake(time.Time{})})
	if !errors.Is(err, errFlaky) || !errors.Is(err, ErrTimeout) {
		t.Errorf("error = %v, want a timeout naming %v", err, errFlaky)
	}
}

func TestWaitStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	poll, polls := script(answer{st: members("a=waiting")})
	_, err := Wait(ctx, Plan{Poll: poll}, Options{
		Timeout:  time.Hour,
		Clock:    clock.NewFake(time.Time{}),
		Progress: func(Status) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if *polls != 1 {
		t.Errorf("polls = %d, want 1", *polls)
	}
}

func TestWaitPollSeesCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Wait(ctx, Plan{Poll: func(ctx context.Context) (Status, error) {
		return Status{}, ctx.Err()
	}}, Options{Timeout: time.Hour, Clock: clock.NewFake(time.Time{})})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestWaitRefusesNoTimeout(t *testing.T) {
	poll, polls := script(answer{st: members("a=ready")})
	if _, err := Wait(context.Background(), Plan{Poll: poll}, Options{}); err == nil {
		t.Fatal("Wait with no timeout succeeded, want an error")
	}
	if *polls != 0 {
		t.Errorf("polled %d times before refusing, want 0", *polls)
	}
}

func TestDescribe(t *testing.T) {
	got := Describe([]Member{{Name: "a", Detail: "no release yet"}, {Name: "b"}})
	if want := "a (no release yet), b"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestLines(t *testing.T) {
	var said []string
	progress := Lines("hosts", func(l string) { said = append(said, l) })
	round := func(n int, st Status) {
		st.Round, st.Elapsed = n, time.Duration(n-1)*10*time.Second
		progress(st)
	}
	round(1, members("a=ready", "b=waiting", "c=waiting"))
	for n := 2; n <= 8; n++ { // unchanged: said again on the sixth repeat only
		round(n, members("a=ready", "b=ready", "c=waiting"))
	}
	round(9, Status{Err: errFlaky})
	round(10, members("a=ready", "b=ready", "c=waiting"))
	want := []string{
		"[0s] waiting for 2 of 3 hosts: b, c",
		"[10s] waiting for 1 of 3 hosts: c",
		"[1m10s] waiting for 1 of 3 hosts: c",
		"[1m20s] look 9 failed, retrying: dial b:22: connection refused",
	}
	if !reflect.DeepEqual(said, want) {
		t.Errorf("lines:\n got %q\nwant %q", said, want)
	}
}
