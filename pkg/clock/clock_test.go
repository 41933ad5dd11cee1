package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRealSleepStopsOnCancel(t *testing.T) {
	cause := errors.New("stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := (Real{}).Sleep(ctx, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("Sleep on a done context = %v, want %v", err, cause)
	}
	if err := (Real{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep 1ms = %v", err)
	}
}

func TestFakeMovesTimeAndRecords(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := NewFake(start)
	if err := f.Sleep(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	if got, want := f.Now(), start.Add(time.Minute+3*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if got := f.Sleeps(); len(got) != 1 || got[0] != 3*time.Second {
		t.Fatalf("Sleeps = %v, want [3s]", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Second); err == nil {
		t.Fatal("Sleep on a cancelled context succeeded")
	}
	if _, ok := Or(nil).(Real); !ok {
		t.Fatal("Or(nil) is not the wall clock")
	}
	if Or(f) != Clock(f) {
		t.Fatal("Or(f) is not f")
	}
}
