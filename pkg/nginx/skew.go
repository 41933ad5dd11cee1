package nginx

import (
	"strings"
	"text/template"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/release"
)

// Skew protection (docs/skew.md): a request that names a release, by the
// X-Deployment-Id header (Next sends it on client navigations, prefetches
// and Server Action calls of a build with a deployment id), the dpl query
// or the __nd_dpl cookie, goes to that release's kept app while its
// directory (pm2.SkewDir/<release>.d, holding its unix socket) exists; any
// other request, and a release whose app is gone, goes to current. The
// directory is looked up per request (a stat; nginx's -e is false for a
// socket itself), so activate never reloads nginx. Only a valid release
// id can name a socket: the maps take nothing else, so no header can
// point nginx at another path.

// skewParts are the pieces of the skew routing, placed by Render.
type skewParts struct {
	// Maps go in the http {} block, before the server block.
	Maps string
	// Route goes at the top of the server block: it picks the upstream.
	Route string
	// Fallback is the named location a failed connection to a kept app
	// falls back to (a stale socket left by a crash).
	Fallback string
}

func skew(c Config) (skewParts, error) {
	data := struct {
		Config
		IDPattern string
		Sockets   string
		DirSuffix string
		Socket    string
	}{c, release.IDPattern, c.Root + "/" + pm2.SkewDir, pm2.SkewDirSuffix, pm2.SkewSocketName}
	var p skewParts
	for _, x := range []struct {
		t   *template.Template
		out *string
	}{{skewMapsTmpl, &p.Maps}, {skewRouteTmpl, &p.Route}, {skewFallbackTmpl, &p.Fallback}} {
		var b strings.Builder
		if err := x.t.Execute(&b, data); err != nil {
			return p, err
		}
		*x.out = strings.TrimRight(b.String(), "\n")
	}
	return p, nil
}

var skewMapsTmpl = template.Must(template.New("maps").Parse(`# Skew protection (docs/skew.md): the release a request names, if any:
# the X-Deployment-Id header first (Next sends it on client navigations and
# Server Action calls), then ?dpl=, then the __nd_dpl cookie. Only a valid
# release id passes: nothing else can reach the socket path below.
map $http_x_deployment_id $nd_dpl_header {
    "~^(?<nd_id>{{.IDPattern}})$" $nd_id;
    default "";
}
map $arg_dpl $nd_dpl_arg {
    "~^(?<nd_id>{{.IDPattern}})$" $nd_id;
    default "";
}
map $cookie___nd_dpl $nd_dpl_cookie {
    "~^(?<nd_id>{{.IDPattern}})$" $nd_id;
    default "";
}
map "$nd_dpl_header:$nd_dpl_arg:$nd_dpl_cookie" $nd_dpl {
    "~^(?<nd_id>[^:]+):" $nd_id;
    "~^:(?<nd_id>[^:]+):" $nd_id;
    "~^::(?<nd_id>.+)$" $nd_id;
    default "";
}
`))

var skewRouteTmpl = template.Must(template.New("route").Parse(`# Skew protection: a request naming a release whose kept app listens
# (its directory exists) goes to it; everything else to current. Found per
# request: activate starts and stops kept apps without reloading nginx.
set $nd_upstream next_deploy_app;
if (-d {{.Sockets}}/$nd_dpl{{.DirSuffix}}) {
    set $nd_upstream "unix:{{.Sockets}}/$nd_dpl{{.DirSuffix}}/{{.Socket}}:";
}
`))

var skewFallbackTmpl = template.Must(template.New("fallback").Parse(`# A kept app that does not answer (a socket left by a crash): current
# answers instead. A failure of current itself stays a 502, as before.
# The proxy lines are those of location /.
location @nd_current {
    if ($nd_upstream = next_deploy_app) {
        return 502;
    }
    proxy_pass http://next_deploy_app;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_next_upstream error timeout;
    proxy_next_upstream_tries 2;
}
`))
