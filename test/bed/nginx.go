package bed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/org/next-deploy/pkg/release"
)

// DefaultStaticLocation is the nginx location serving Next.js static files
// requested at /<release>/_next/static/... (assetPrefix = /<release>) from
// that release, falling back to current so a browser holding an old page
// gets its chunks as long as the release is kept. appDir is where server.js
// lies inside a release ("" = the release root). It stands in for
// `next-deploy config nginx` until that exists (see Options.StaticLocation).
func DefaultStaticLocation(deployPath, appDir string) string {
	sub := strings.Trim(appDir, "/")
	if sub != "" {
		sub += "/"
	}
	return fmt.Sprintf(`location ~ "^/(?<nd_release>`+release.IDPattern+`)/_next/static/(?<nd_file>.+)$" {
	root %s;
	try_files /releases/$nd_release/%s.next/static/$nd_file /current/%s.next/static/$nd_file =404;
	add_header Cache-Control "public, max-age=31536000, immutable";
}`, deployPath, sub, sub)
}

// nginxStream describes how this nginx gets its stream module.
type nginxStream struct {
	loadModule string // path for load_module; "" when built in
}

var (
	streamOnce sync.Once
	stream     nginxStream
	streamErr  error
)

// findStream reads `nginx -V`: the stream module is built in, or dynamic
// under --modules-path (Debian: libnginx-mod-stream).
func findStream() (nginxStream, error) {
	streamOnce.Do(func() {
		path := tool("nginx")
		if path == "" {
			streamErr = errors.New("nginx not found (apt-get install nginx)")
			return
		}
		out, err := exec.Command(path, "-V").CombinedOutput()
		if err != nil {
			streamErr = fmt.Errorf("nginx -V: %w", err)
			return
		}
		v := string(out)
		switch {
		case strings.Contains(v, "--with-stream=dynamic"):
			dir := "/usr/lib/nginx/modules"
			if m := regexp.MustCompile(`--modules-path=(\S+)`).FindStringSubmatch(v); m != nil {
				dir = m[1]
			}
			mod := filepath.Join(dir, "ngx_stream_module.so")
			if _, err := os.Stat(mod); err != nil {
				streamErr = fmt.Errorf("nginx stream module %s missing (apt-get install libnginx-mod-stream)", mod)
				return
			}
			stream.loadModule = mod
		case regexp.MustCompile(`--with-stream(\s|$)`).MatchString(v):
		default:
			streamErr = errors.New("nginx lacks the stream module")
		}
	})
	return stream, streamErr
}

// nginxMain is the part of nginx.conf shared by the hosts and the balancer.
func nginxMain(dir, loadModule string) string {
	var s strings.Builder
	if loadModule != "" {
		fmt.Fprintf(&s, "load_module %s;\n", loadModule)
	}
	// Workers run as root so they can read every user's releases.
	fmt.Fprintf(&s, `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
`, dir)
	return s.String()
}

// hostNginxConf is h's nginx: static files from disk, the rest proxied to
// the app over kept-alive HTTP/1.1 connections.
func (b *Bed) hostNginxConf(h *Host, dir string) string {
	static := DefaultStaticLocation(h.DeployPath, "")
	if b.opts.StaticLocation != nil {
		static = b.opts.StaticLocation(h)
	}
	mime := ""
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;"
	}
	servers := fmt.Sprintf(`	upstream app {
		server %[1]s;
		keepalive 32;
	}
	server {
		listen %[2]s;
		server_name _;
%[3]s
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
		}
	}`, h.AppAddr, h.NginxAddr, indent(static, "\t\t"))
	if b.opts.HTTP != nil {
		servers = indent(b.opts.HTTP(h), "\t")
	}
	return nginxMain(dir, "") + fmt.Sprintf(`http {
	%[1]s
	default_type application/octet-stream;
	access_log %[2]s/logs/access.log;
	client_body_temp_path %[2]s/tmp/client_body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	sendfile on;
%[3]s
}
`, mime, dir, servers)
}

// balancerConf is the L4 round-robin balancer in front of the hosts' nginx.
func (b *Bed) balancerConf(dir, loadModule string) string {
	var ups strings.Builder
	for _, h := range b.Hosts {
		fmt.Fprintf(&ups, "\t\tserver %s;\n", h.NginxAddr)
	}
	return nginxMain(dir, loadModule) + fmt.Sprintf(`stream {
	upstream hosts {
%s	}
	server {
		listen %s;
		proxy_pass hosts;
		proxy_connect_timeout 2s;
	}
}
`, ups.String(), b.BalancerAddr)
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

// startNginx writes conf into dir and runs an nginx master on it, logging
// under dir, and waits until it accepts connections on addr.
func startNginx(name, dir, addr string, conf func(dir string) string) (*proc, error) {
	if err := ensureFree(addr); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf(dir)), 0o644); err != nil {
		return nil, err
	}
	errLog := filepath.Join(dir, "logs", "error.log")
	return startProc(name, errLog, tool("nginx"), "-e", errLog, "-c", cfg, "-p", dir+"/")
}

// startNginxes starts every host's nginx, then the balancer.
func (b *Bed) startNginxes() error {
	st, err := findStream()
	if err != nil {
		return err
	}
	for _, h := range b.Hosts {
		p, err := startNginx("nginx "+h.Name(), filepath.Join(h.dir, "nginx"), h.NginxAddr, func(dir string) string {
			return b.hostNginxConf(h, dir)
		})
		if err != nil {
			return err
		}
		b.mu.Lock()
		h.nginx = p
		h.NginxPID = p.id.PID
		b.mu.Unlock()
		if err := b.recordProcs(); err != nil {
			return err
		}
	}
	for _, h := range b.Hosts {
		if err := waitListening(h.nginx, h.NginxAddr, nil); err != nil {
			return err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.BalancerAddr = l.Addr().String()
	l.Close()
	p, err := startNginx("balancer", filepath.Join(b.Dir, "balancer"), b.BalancerAddr, func(dir string) string {
		return b.balancerConf(dir, st.loadModule)
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.balancer = p
	b.BalancerPID = p.id.PID
	b.mu.Unlock()
	if err := b.recordProcs(); err != nil {
		return err
	}
	return waitListening(p, b.BalancerAddr, nil)
}
