package status

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
)

// Issue 16 item 4: without nginx in front, the app serves only its own
// release's static files, and browsers on a page of the previous release
// get 404 for its chunks. status fetches one of the previous release's
// files through the front ({host} is each host's address) and shows it.
func TestStatusChecksThePreviousReleasesStaticFiles(t *testing.T) {
	l, root, _ := seed(t)
	chunks := filepath.Join(root, "releases", "r2", ".next", "static", "chunks")
	if err := os.MkdirAll(chunks, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chunks, "main-r2.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var asked string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path
		http.NotFound(w, r)
	}))
	defer front.Close()
	_, port, _ := net.SplitHostPort(front.Listener.Addr().String())
	o := Options{PM2: fakePM2{site: &pm2.Site{Root: root, RealRoot: root}}, Front: "http://{host}:" + port}
	hs, err := Run(context.Background(), conn{}, []inventory.Target{{Local: true}}, l, o)
	if err != nil {
		t.Fatal(err)
	}
	s := hs[0].OldStatic
	if s == nil || s.Release != "r2" || s.Served || s.Status != 404 || asked != "/r2/_next/static/chunks/main-r2.js" {
		t.Fatalf("old static = %+v (nginx asked %q); want r2's chunk, 404", s, asked)
	}
	o.Front = ""
	if hs, err = Run(context.Background(), conn{}, []inventory.Target{{Local: true}}, l, o); err != nil || hs[0].OldStatic != nil {
		t.Errorf("with no front: %+v, %v; want no check", hs[0].OldStatic, err)
	}
}
