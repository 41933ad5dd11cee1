package clock

import (
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1500 * time.Millisecond, "1.5s"},
		{10 * time.Second, "10s"},
		{90 * time.Second, "1m30s"},
		{10 * time.Minute, "10m"},
		{2 * time.Hour, "2h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{168 * time.Hour, "168h"},
		{-time.Minute, "-1m"},
		{10*time.Minute + 500*time.Millisecond, "10m0.5s"},
		{20 * time.Millisecond, "20ms"},
	} {
		got := Format(tc.d)
		if got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.d {
			t.Errorf("Format(%v) = %q does not parse back: %v, %v", tc.d, got, back, err)
		}
	}
}
