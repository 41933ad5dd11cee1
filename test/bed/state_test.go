package bed

import (
	"strings"
	"testing"
)

// Regression guard for the leftover cleanup: it deletes users and
// directories, so it must only ever match what Start creates.
func TestLeftoverMatchesOnlyBedNames(t *testing.T) {
	for _, tc := range []struct {
		user string
		want bool
	}{
		{"ndbx7k2h0", true},
		{"ndbx7k2h12", true},
		{"ndbx7k2j", true},
		{"ndb", false},
		{"ndbx7k2", false},
		{"ndbx7k2h", false},
		{"ndbX7K2h0", false},
		{"ndbx7k2h0x", false},
		{"xndbx7k2h0", false},
		{"deploy", false},
		{"root", false},
	} {
		if got := bedUser.MatchString(tc.user); got != tc.want {
			t.Errorf("bedUser.MatchString(%q) = %v, want %v", tc.user, got, tc.want)
		}
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/tmp/ndbed-123/home/ndbx7k2h0", true},
		{"/tmp/ndbed-123/x", true},
		{"/tmp/ndbed-123", false},
		{"/home/ndbx7k2h0", false},
		{"/tmp/other/ndbx7k2h0", false},
		{"/", false},
	} {
		if got := inBedDir(tc.path); got != tc.want {
			t.Errorf("inBedDir(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestDefaultStaticLocationAppDir(t *testing.T) {
	got := DefaultStaticLocation("/srv/app", "/apps/web/")
	want := "try_files /releases/$nd_release/apps/web/.next/static/$nd_file /current/apps/web/.next/static/$nd_file =404;"
	if !strings.Contains(got, want) || !strings.Contains(got, "root /srv/app;") {
		t.Errorf("DefaultStaticLocation:\n%s\nwant it to contain:\n%s", got, want)
	}
}
