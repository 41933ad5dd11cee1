package clock

import (
	"strings"
	"time"
)

// Format prints d the way a person writes it, and the way flags and
// inputs take it: 2h, 1h30m, 10m, 1m30s, 1.5s. time.Duration's String
// says 2h0m0s and 10m0s, which reads as noise in messages and help.
func Format(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
