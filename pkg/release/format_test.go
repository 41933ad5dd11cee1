package release

import (
	"errors"
	"testing"
)

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in        string
		ext, tool string
	}{
		{"zst", ".tar.zst", "zstd"},
		{"gz", ".tar.gz", "gzip"},
		{"xz", ".tar.xz", "xz"},
		{"tar", ".tar", "tar"},
		{"zip", "", ""},
		{"", "", ""},
		{"ZST", "", ""},
	} {
		f, err := ParseFormat(tc.in)
		if tc.ext == "" {
			if !errors.Is(err, ErrInvalid) || Format(tc.in).Valid() == nil || Format(tc.in).Tool() != "" {
				t.Errorf("ParseFormat(%q) = %q, %v; want ErrInvalid", tc.in, f, err)
			}
			continue
		}
		if err != nil || f.Valid() != nil || f.Ext() != tc.ext || f.Tool() != tc.tool {
			t.Errorf("ParseFormat(%q) = %q (ext %q, tool %q), %v; want ext %q, tool %q", tc.in, f, f.Ext(), f.Tool(), err, tc.ext, tc.tool)
		}
	}
}

func TestSplitArtifactName(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		f    Format
		ok   bool
	}{
		{"r1.tar.zst", "r1", Zstd, true},
		{"abc1234.tar.gz", "abc1234", Gzip, true},
		{"v1.2.tar.xz", "v1.2", Xz, true},
		{"r1.tar", "r1", Plain, true},
		// A release id may itself end in ".tar": the format is the
		// last extension only.
		{"x.tar.tar.gz", "x.tar", Gzip, true},
		{"r1.zip", "", "", false},
		{"r1.tar.bz2", "", "", false},
	} {
		id, f, ok := SplitArtifactName(tc.name)
		if id != tc.id || f != tc.f || ok != tc.ok {
			t.Errorf("SplitArtifactName(%q) = %q, %q, %v; want %q, %q, %v", tc.name, id, f, ok, tc.id, tc.f, tc.ok)
		}
	}
}
