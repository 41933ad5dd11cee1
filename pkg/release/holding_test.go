package release

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func shortOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:shortHash]
}

func TestHoldingDerives(t *testing.T) {
	h := Holding{ID: "v2", Content: map[string][]byte{
		"a.js":                  []byte("x /v2/_next y v2"),
		"both.js":               []byte("v2 and v1"), // holds the base's id too: sed would turn it into v2
		"node_modules/p/a.js":   []byte("v2"),
		".next-deploy/note.txt": []byte("v2"),
	}}
	for _, tc := range []struct {
		name, path, base, short string
		want                    bool
	}{
		{"the base's file with the id replaced", "a.js", "v1", shortOf("x /v1/_next y v1"), true},
		{"a base file of other content", "a.js", "v1", shortOf("x /v1/_next y v1 changed"), false},
		{"content that sed could not give back", "both.js", "v1", shortOf("v1 and v1"), false},
		{"not held (does not hold the id)", "b.js", "v1", shortOf("v1"), false},
		{"under node_modules", "node_modules/p/a.js", "v1", shortOf("v1"), false},
		{"in the state dir", ".next-deploy/note.txt", "v1", shortOf("v1"), false},
		{"the base is the release itself", "a.js", "v2", shortOf("x /v2/_next y v2"), false},
		{"no short hash", "a.js", "v1", "", false},
	} {
		if got := h.derives(tc.path, tc.base, tc.short); got != tc.want {
			t.Errorf("%s: derives(%q, %q) = %v, want %v", tc.name, tc.path, tc.base, got, tc.want)
		}
	}
	if (Holding{}).derives("a.js", "v1", shortOf("x")) {
		t.Error("an empty Holding derives a file, want none")
	}
}

func TestDerivable(t *testing.T) {
	for p, want := range map[string]bool{
		"server.js":                     true,
		".next/server/app/page.js":      true,
		"node_modules/next/dist/a.js":   false,
		"apps/web/node_modules/x/a.js":  false,
		".next-deploy/files.tsv":        false,
		".next-deployed/x":              true,
		"apps/web/.next/static/a-v1.js": true,
	} {
		if got := Derivable(p); got != want {
			t.Errorf("Derivable(%q) = %v, want %v", p, got, want)
		}
	}
}
