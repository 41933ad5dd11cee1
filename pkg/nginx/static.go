package nginx

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/remote"
)

// DefaultFront is where browsers reach a host, as seen from the host
// itself: the nginx of config nginx on its default listen port. {host}
// stands for the host's address as given in --hosts.
const DefaultFront = "http://" + health.HostPlaceholder + ":80"

//go:embed scripts/static-file.sh
var staticFileScript string

// Static is whether a host still serves the static files of an older
// release: without the nginx of config nginx, the app serves only its own
// release's /<release>/_next/static, and a browser holding a page of the
// release just replaced gets 404 for every chunk it has yet to load.
type Static struct {
	// Release is the older release checked; URL the file fetched.
	Release string `json:"release"`
	URL     string `json:"url"`
	// Served: the answer was 200.
	Served bool `json:"served"`
	// Status is the HTTP status (0: no answer; Error says why).
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Problem says in a few words why the file was not served ("" when it
// was).
func (s *Static) Problem() string {
	switch {
	case s.Served:
		return ""
	case s.Status != 0:
		return fmt.Sprintf("GET %s: %d", s.URL, s.Status)
	}
	return fmt.Sprintf("GET %s: %s", s.URL, s.Error)
}

// Fix is what to do about a host that does not serve old releases'
// static files.
func Fix(root string) string {
	return "serve /<release>/_next/static from every kept release with nginx in front of the app: next-deploy config nginx --path " + root + " prints the server block (include it in nginx's http {} block, then nginx -t && nginx -s reload); if nginx listens elsewhere, say where with --front"
}

// CheckStatic fetches one static file of release id (found on the host
// under root; appDir is where server.js is inside the release) at
// <front>/<id>/_next/static/<file>, through the host's connection (front
// is a URL as seen from the host, {host} already replaced). It returns nil
// when the release has no static file, and an error only when the host
// could not be asked.
func CheckStatic(ctx context.Context, h remote.Host, root, front, id, appDir string) (*Static, error) {
	res, err := h.Run(ctx, remote.Cmd{Script: staticFileScript, Args: []string{root, id, appDir}})
	if err != nil {
		return nil, fmt.Errorf("list the static files of %s in %s on %s: %w", id, root, h.Name(), err)
	}
	file := strings.TrimSpace(string(res.Stdout))
	if file == "" {
		return nil, nil
	}
	s := &Static{Release: id, URL: strings.TrimRight(front, "/") + "/" + id + "/_next/static/" + file}
	code, err := health.Get(ctx, h.DialTCP, s.URL, 10*time.Second)
	s.Status, s.Served = code, code == 200
	if err != nil {
		s.Error = err.Error()
	}
	return s, nil
}
