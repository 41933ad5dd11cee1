package nginx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/remote"
)

// CheckStatic picks a chunk of the release on the host and fetches it
// through the front: served (200), not served (404, or nothing listens),
// or nothing to check (the release has no static file).
func TestCheckStatic(t *testing.T) {
	root := t.TempDir()
	chunks := filepath.Join(root, "releases", "r1", "apps", "web", ".next", "static", "chunks")
	if err := os.MkdirAll(chunks, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chunks, "main-abc.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "releases", "r0"), 0o755); err != nil {
		t.Fatal(err)
	}
	var asked []string
	nginxLike := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		w.WriteHeader(http.StatusOK)
	}))
	defer nginxLike.Close()
	appOnly := httptest.NewServer(http.NotFoundHandler())
	defer appOnly.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	h := remote.NewLocal()
	ctx := context.Background()
	for _, tc := range []struct {
		name, front, id string
		served          bool
		problem         string
	}{
		{"nginx in front", nginxLike.URL, "r1", true, ""},
		{"the app alone", appOnly.URL, "r1", false, ": 404"},
		{"nothing listens", closed.URL, "r1", false, "refused"},
	} {
		s, err := CheckStatic(ctx, h, root, tc.front, tc.id, "apps/web")
		if err != nil || s == nil {
			t.Fatalf("%s: %+v, %v", tc.name, s, err)
		}
		if s.Served != tc.served || !strings.Contains(s.Problem(), tc.problem) || !strings.HasSuffix(s.URL, "/r1/_next/static/chunks/main-abc.js") {
			t.Errorf("%s: %+v (%s); want served %v, a problem with %q", tc.name, s, s.Problem(), tc.served, tc.problem)
		}
	}
	if len(asked) != 1 || asked[0] != "/r1/_next/static/chunks/main-abc.js" {
		t.Errorf("nginx was asked %q", asked)
	}
	if s, err := CheckStatic(ctx, h, root, nginxLike.URL, "r0", ""); s != nil || err != nil {
		t.Errorf("a release without static files: %+v, %v; want nothing checked", s, err)
	}
}
