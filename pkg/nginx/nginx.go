// Package nginx owns the nginx pieces that fit the release layout: an
// upstream to the app with kept-alive connections and a server block that
// serves /<release>/_next/static/... from that release on disk (falling
// back to current, so a browser holding an old page still gets its chunks
// while the release is kept), with immutable cache headers, and proxies
// the rest to the app, retrying idempotent requests on a connection error;
// a request that names an older release still kept running goes to that
// release's app instead (skew protection, skew.go).
package nginx

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"

	"github.com/org/next-deploy/pkg/release"
)

// Config is what the nginx pieces are made from.
type Config struct {
	// Root is the deploy root, absolute (nginx does not expand ~).
	Root string
	// AppDir is where server.js is inside a release ("" or "apps/web").
	AppDir string
	// Listen is nginx's listen parameter: a port or address:port.
	Listen string
	// ServerName is server_name ("_" for any).
	ServerName string
	// Upstream is the app's address (HOSTNAME:PORT of the ecosystem).
	Upstream string
	// Keepalive is the number of idle connections kept to the app.
	Keepalive int
	// BasePath is next.config's basePath ("" or "/docs"): the app and its
	// assets (<basePath>/<release>/_next/static/) live under it.
	BasePath string
}

// Defaults of config nginx.
var Defaults = Config{
	Listen:     "80",
	ServerName: "_",
	Upstream:   "127.0.0.1:3000",
	Keepalive:  32,
}

var (
	listenRe = regexp.MustCompile(`^([0-9A-Za-z.:\[\]-]+:)?[0-9]{1,5}$`)
	addrRe   = regexp.MustCompile(`^[0-9A-Za-z.\[\]:-]+:[0-9]{1,5}$`)
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9_.*~^$-]+( [A-Za-z0-9_.*~^$-]+)*$`)
	// basePathRe is a basePath as Next accepts it, in characters nginx
	// takes literally in a prefix location and a regex.
	basePathRe = regexp.MustCompile(`^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+$`)
)

// CheckBasePath checks a basePath: "" or like /docs (no trailing slash).
func CheckBasePath(p string) error {
	if p != "" && !basePathRe.MatchString(p) {
		return fmt.Errorf("base path %q: want next.config's basePath, like /docs (no trailing slash)", p)
	}
	return nil
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case strings.HasPrefix(c.Root, "~"):
		bad("deploy path %q: nginx does not expand ~: give the absolute path, like /home/deploy/app", c.Root)
	case !path.IsAbs(c.Root) || path.Clean(c.Root) != c.Root || c.Root == "/" || release.CheckPathChars(c.Root) != nil:
		bad("deploy path %q: want a clean absolute path of letters, digits, '/', '.', '_', '-'", c.Root)
	}
	if c.AppDir != "" && (path.IsAbs(c.AppDir) || path.Clean(c.AppDir) != c.AppDir || strings.HasPrefix(c.AppDir, "..") || !release.PathChars.MatchString(c.AppDir)) {
		bad("app dir %q: want a clean path relative to the release, like apps/web", c.AppDir)
	}
	if !listenRe.MatchString(c.Listen) {
		bad("listen %q: want a port or address:port", c.Listen)
	}
	if !nameRe.MatchString(c.ServerName) {
		bad("server name %q: want names separated by spaces, or _", c.ServerName)
	}
	if !addrRe.MatchString(c.Upstream) {
		bad("upstream %q: want the app's address:port, like 127.0.0.1:3000", c.Upstream)
	}
	if c.Keepalive < 1 {
		bad("keepalive %d: want 1 or more", c.Keepalive)
	}
	if err := CheckBasePath(c.BasePath); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) sub() string {
	if c.AppDir == "" {
		return ""
	}
	return c.AppDir + "/"
}

// StaticLocation is the location block serving /<release>/_next/static/.
func StaticLocation(c Config) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	err := staticTmpl.Execute(&b, struct {
		Config
		Sub       string
		IDPattern string
	}{c, c.sub(), release.IDPattern})
	return b.String(), err
}

// Render returns the upstream and server blocks, for the http {} block.
func Render(c Config) ([]byte, error) {
	loc, err := StaticLocation(c)
	if err != nil {
		return nil, err
	}
	sk, err := skew(c)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	err = serverTmpl.Execute(&b, struct {
		Config
		Static string
		Skew   skewParts
	}{c, indent(loc, "    "), skewParts{Maps: sk.Maps, Route: indent(sk.Route, "    "), Fallback: indent(sk.Fallback, "    ")}})
	return []byte(b.String()), err
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

var staticTmpl = template.Must(template.New("static").Parse(`# /<release>/_next/static/... (assetPrefix = /<release>) from that release
# while it is kept, else from current: a browser holding a page of an
# older release still gets its chunks. File names carry content hashes.
location ~ "^{{.BasePath}}/(?<nd_release>{{.IDPattern}})/_next/static/(?<nd_file>.+)$" {
    root {{.Root}};
    try_files /releases/$nd_release/{{.Sub}}.next/static/$nd_file /current/{{.Sub}}.next/static/$nd_file =404;
    add_header Cache-Control "public, max-age=31536000, immutable";
    access_log off;
}
`))

var serverTmpl = template.Must(template.New("server").Parse(`# nginx for the next-deploy layout under {{.Root}}
# (written by next-deploy config nginx). Include it in the http {} block,
# e.g. as /etc/nginx/conf.d/next-app.conf, then: nginx -t && nginx -s reload

upstream next_deploy_app {
    # The app twice: nginx retries a request that failed on a connection
    # error on the next server of the upstream, and one server has none.
    server {{.Upstream}} max_fails=0;
    server {{.Upstream}} max_fails=0;
    keepalive {{.Keepalive}};
    # Below Node's keepAliveTimeout (5 s): nginx closes idle connections
    # before the app does, so no request meets a socket being closed.
    keepalive_timeout 4s;
}

{{.Skew.Maps}}

server {
    listen {{.Listen}};
    server_name {{.ServerName}};

{{.Skew.Route}}

{{.Static}}

    location {{if .BasePath}}{{.BasePath}}{{else}}/{{end}} {
        proxy_pass http://$nd_upstream;
        error_page 502 = @nd_current;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # The Host the browser sent, its port included ($host drops it):
        # Next refuses a Server Action whose Origin does not match the
        # forwarded host (with nginx on :8090, "127.0.0.1" is not
        # "127.0.0.1:8090"), and builds absolute URLs from it.
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        # A request that failed on a connection error is sent once more,
        # unless it is a POST, LOCK or PATCH (no non_idempotent).
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 2;
    }

{{.Skew.Fallback}}
}
`))
