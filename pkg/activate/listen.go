package activate

import (
	"net"
	"net/url"
	"strconv"

	"github.com/org/next-deploy/pkg/health"
	"github.com/org/next-deploy/pkg/pm2"
)

// ecosystem is cfg for this host: EcosystemFor, then the host's own
// listen address when next-deploy.yml overrides it (app_hostname,
// app_port).
func (h Host) ecosystem(cfg pm2.Config, appDir string) pm2.Config {
	cfg = EcosystemFor(cfg, h.Addr(), appDir)
	if h.Target.AppHostname != "" {
		cfg.Hostname = h.Target.AppHostname
	}
	if h.Target.AppPort != 0 {
		cfg.Port = h.Target.AppPort
	}
	return cfg
}

// healthURL is the health URL for this host: {host} expanded and, when the
// host's app listens elsewhere than the fleet's (fleet, the ecosystem
// config), a URL that points at the fleet's app address (its port, and its
// hostname when overridden) points at the host's instead. A URL through
// nginx or another port is left alone.
func (h Host) healthURL(raw string, fleet pm2.Config) (string, error) {
	s, err := health.Expand(raw, h.Addr())
	if err != nil || (h.Target.AppPort == 0 && h.Target.AppHostname == "") {
		return s, err
	}
	u, err := url.Parse(s)
	if err != nil || u.Port() != strconv.Itoa(fleet.Port) {
		return s, nil // Expand checked it
	}
	mine := h.ecosystem(fleet, "")
	host := u.Hostname()
	if h.Target.AppHostname != "" && host == EcosystemFor(fleet, h.Addr(), "").Hostname && !unspecified(mine.Hostname) {
		host = mine.Hostname
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(mine.Port))
	return u.String(), nil
}

// unspecified is a listen address meaning every interface: the app is
// asked on loopback then, as the URL says.
func unspecified(addr string) bool {
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsUnspecified()
}
