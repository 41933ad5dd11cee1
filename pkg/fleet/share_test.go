package fleet

import (
	"strings"
	"testing"
)

func TestParseShare(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Share
		wantErr string
	}{
		{"1", Share{N: 1}, ""},
		{"16", Share{N: 16}, ""},
		{"25%", Share{N: 25, Percent: true}, ""},
		{"100%", Share{N: 100, Percent: true}, ""},
		{"1%", Share{N: 1, Percent: true}, ""},
		{"0", Share{}, "0: want 1 or more hosts"},
		{"-1", Share{}, "-1: want 1 or more hosts"},
		{"0%", Share{}, "0%: want 1% to 100%"},
		{"101%", Share{}, "101%: want 1% to 100%"},
		{"", Share{}, `"": want a number of hosts`},
		{"%", Share{}, `"%": want a number of hosts`},
		{"2.5", Share{}, `"2.5": want a number of hosts`},
		{"25 %", Share{}, `"25 %": want a number`},
		{"+2", Share{}, `"+2": want a number`},
		{"half", Share{}, `"half": want a number of hosts like 2, or a share of them like 25%`},
	} {
		got, err := ParseShare(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("ParseShare(%q) = %v, %v; want an error starting %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseShare(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("ParseShare(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestShareOf(t *testing.T) {
	for _, tc := range []struct {
		share string
		hosts int
		want  int
	}{
		{"25%", 16, 4},
		{"25%", 64, 16},
		{"25%", 10, 3}, // 2.5 rounded up
		{"25%", 2, 1},  // 0.5 rounded up
		{"1%", 3, 1},   // never less than one host
		{"100%", 5, 5},
		{"33%", 3, 1}, // 0.99 rounded up
		{"34%", 3, 2}, // 1.02 rounded up
		{"1", 16, 1},
		{"4", 16, 4},
		{"20", 16, 16}, // more than the fleet: all of it
		{"25%", 0, 1},
	} {
		s, err := ParseShare(tc.share)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Of(tc.hosts); got != tc.want {
			t.Errorf("%s of %d hosts = %d, want %d", tc.share, tc.hosts, got, tc.want)
		}
	}
}
