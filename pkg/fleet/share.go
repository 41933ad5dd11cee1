package fleet

import (
	"fmt"
	"strconv"
	"strings"
)

// Share is a number of hosts given either as a count ("2") or as a share
// of the fleet ("25%"): the batch of a rolling switch. The zero Share is
// not valid; ParseShare makes one. It is a flag.Value.
type Share struct {
	// N is the count, or the percent when Percent.
	N       int
	Percent bool
}

// ParseShare reads "N" (1 or more) or "P%" (1% to 100%).
func ParseShare(s string) (Share, error) {
	num, pct := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(num)
	if err != nil || strings.HasPrefix(num, "+") {
		return Share{}, fmt.Errorf("%q: want a number of hosts like 2, or a share of them like 25%%", s)
	}
	switch {
	case pct && (n < 1 || n > 100):
		return Share{}, fmt.Errorf("%s: want 1%% to 100%%", s)
	case !pct && n < 1:
		return Share{}, fmt.Errorf("%s: want 1 or more hosts, or a share of them like 25%%", s)
	}
	return Share{N: n, Percent: pct}, nil
}

// Of is the share of hosts hosts: a percent rounded up, never less than
// one host nor more than all of them (a count larger than the fleet is
// the whole fleet).
func (s Share) Of(hosts int) int {
	n := s.N
	if s.Percent {
		n = (hosts*s.N + 99) / 100
	}
	return max(1, min(n, hosts))
}

// String is the share as ParseShare reads it.
func (s Share) String() string {
	if s.Percent {
		return strconv.Itoa(s.N) + "%"
	}
	return strconv.Itoa(s.N)
}

// Set implements flag.Value.
func (s *Share) Set(v string) error {
	p, err := ParseShare(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}
