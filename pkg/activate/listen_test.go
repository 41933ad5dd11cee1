package activate

import (
	"testing"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
)

// A host of next-deploy.yml with its own app_port / app_hostname gets an
// ecosystem listening there and a health check asking there; a health URL
// that does not point at the app (nginx's port) is left alone.
func TestPerHostAppListen(t *testing.T) {
	fleet := pm2.Defaults // 127.0.0.1:3000
	withHost := fleet
	withHost.Hostname = "{host}"
	for _, tc := range []struct {
		name         string
		target       inventory.Target
		fleet        pm2.Config
		url          string
		wantURL      string
		wantHostname string
		wantPort     int
	}{
		{"no override", inventory.Target{Host: "10.0.0.5", Port: 22}, fleet,
			"http://127.0.0.1:3000/", "http://127.0.0.1:3000/", "127.0.0.1", 3000},
		{"app_port", inventory.Target{Host: "10.0.0.5", Port: 22, AppPort: 3001}, fleet,
			"http://127.0.0.1:3000/health", "http://127.0.0.1:3001/health", "127.0.0.1", 3001},
		{"app_port, URL through nginx", inventory.Target{Host: "10.0.0.5", Port: 22, AppPort: 3001}, fleet,
			"http://127.0.0.1:8080/", "http://127.0.0.1:8080/", "127.0.0.1", 3001},
		{"app_hostname and app_port, {host}", inventory.Target{Host: "10.0.0.5", Port: 22, AppHostname: "10.1.0.5", AppPort: 3002}, withHost,
			"http://{host}:3000/", "http://10.1.0.5:3002/", "10.1.0.5", 3002},
		{"app_hostname 0.0.0.0: asked on the URL's host", inventory.Target{Host: "10.0.0.5", Port: 22, AppHostname: "0.0.0.0"}, fleet,
			"http://127.0.0.1:3000/", "http://127.0.0.1:3000/", "0.0.0.0", 3000},
		{"local", inventory.Target{Local: true, AppPort: 4000}, fleet,
			"http://{host}:3000/", "http://127.0.0.1:4000/", "127.0.0.1", 4000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Host{Target: tc.target}
			got, err := h.healthURL(tc.url, tc.fleet)
			if err != nil || got != tc.wantURL {
				t.Errorf("health URL = %q, %v; want %q", got, err, tc.wantURL)
			}
			eco := h.ecosystem(tc.fleet, "apps/web")
			if eco.Hostname != tc.wantHostname || eco.Port != tc.wantPort || eco.AppDir != "apps/web" {
				t.Errorf("ecosystem listens on %s:%d (app dir %q), want %s:%d", eco.Hostname, eco.Port, eco.AppDir, tc.wantHostname, tc.wantPort)
			}
		})
	}
}
