package inventory

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // canonical targets joined by " "
	}{
		{"web1", "web1:22"},
		{"deploy@web1:2222", "deploy@web1:2222"},
		{"a, b,c", "a:22 b:22 c:22"},
		{"a b\tc", "a:22 b:22 c:22"},
		{"a\nb\r\n\n c \n", "a:22 b:22 c:22"},
		{"local", "local"},
		{"local,deploy@10.0.0.5", "local deploy@10.0.0.5:22"},
		{"[::1]", "[::1]:22"},
		{"u@[2001:db8::1]:2200", "u@[2001:db8::1]:2200"},
		{"host.example.com.", "host.example.com.:22"},
		{"a@web1,b@web1", "a@web1:22 b@web1:22"}, // two users on one host are two targets
		{"web1:22,web1:2222", "web1:22 web1:2222"},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		var s []string
		for _, tg := range got {
			s = append(s, tg.String())
		}
		if strings.Join(s, " ") != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, strings.Join(s, " "), tc.want)
		}
	}
}

func TestParseErrorsNameTheEntry(t *testing.T) {
	for _, tc := range []struct {
		in      string
		mention []string
	}{
		{"", []string{"no hosts"}},
		{"a,,b", []string{"empty entry"}},
		{"a,", []string{"empty entry"}},
		{"web1,WEB1", []string{`"WEB1"`, "duplicate"}},
		{"web1 web1:22", []string{`"web1:22"`, "duplicate"}},
		{"web1:0", []string{`"web1:0"`, "port"}},
		{"web1:70000", []string{"port"}},
		{"web1:ssh", []string{"port"}},
		{"::1", []string{"brackets"}},
		{"[::1", []string{"unclosed"}},
		{"[10.0.0.1]", []string{"IPv6"}},
		{"[::1]x", []string{"after ']'"}},
		{"bad_host!", []string{`"bad_host!"`, "host name"}},
		{"@web1", []string{"user"}},
		{"1user@web1", []string{"user"}},
		{"u@", []string{"missing host"}},
		{"$(reboot)", []string{`"$(reboot)"`}},
		{"a;b", []string{`"a;b"`}},
		{"good,bad!,worse?", []string{`"bad!"`, `"worse?"`}},
	} {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", tc.in)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", tc.in, err)
		}
		for _, m := range tc.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("Parse(%q) = %q, want it to mention %s", tc.in, err, m)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a", "u@h:22", "[::1]:2", "local", "a,,b", "x@[::]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses round-trips through its canonical form.
		for _, tg := range ts {
			again, err := ParseEntry(tg.String())
			if err != nil || again.String() != tg.String() {
				t.Fatalf("%q -> %q does not round-trip: %v", s, tg.String(), err)
			}
		}
	})
}

// An OpenSSH client config's Port applies only to entries without one.
func TestPortGiven(t *testing.T) {
	for entry, want := range map[string]bool{
		"web1": false, "u@web1": false, "web1:22": true, "u@web1:2222": true,
		"[::1]": false, "[::1]:22": true, "u@[2001:db8::1]:2200": true, "local": false,
	} {
		tg, err := ParseEntry(entry)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.PortGiven(); got != want {
			t.Errorf("%s: PortGiven = %t, want %t", entry, got, want)
		}
	}
}
