// Package pm2test makes small releases for tests of pm2 reloads,
// activation and rollback: a tiny Node HTTP server that behaves like
// Next's standalone server where it matters (it listens on HOSTNAME/PORT,
// its page references /<release>/_next/static/..., it exits at once on
// SIGINT unless NEXT_MANUAL_SIG_HANDLE is set, it refuses a Server Action
// whose Origin is not the forwarded host), with a POST route, a route that
// leaks memory and one that allocates and frees, a variant that crashes
// at start and one that answers 500 on a route. A release is delivered
// the way deliver does it, through release.Layout.Receive.
package pm2test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
	"github.com/org/next-deploy/pkg/tarball"
)

// serverJS is the app. RELEASE is replaced by the release id.
const serverJS = `'use strict';
// A stand-in for Next's standalone server.js (release RELEASE), with the
// routes of the fixture app (test/fixtures/next-app) the tests use.
const http = require('http');
const RELEASE = 'RELEASE';
// A bad release answers 500 on this path ('' for none), whatever the
// method; every other route, the health URL included, is fine.
const FAIL = FAIL_PATH;
const page = '<!doctype html><html><head><script src="/' + RELEASE +
  '/_next/static/chunks/main-' + RELEASE + '.js" defer></script></head>' +
  '<body><h1>release ' + RELEASE + '</h1></body></html>\n';

// Memory routes for the memory watch and heap snapshot tests (the
// fixture app has them too, in its test build only): /leak keeps kb KiB
// more of small objects on every request, as a leaking cache does;
// /churn allocates as much and lets it go.
const leaked = [];
function allocate(kb, tag) {
  const out = [];
  for (let i = 0; i < kb; i++) out.push({ tag: tag, i: i, body: 'x'.repeat(1000) + i });
  return out;
}

function json(res, code, v) {
  const b = JSON.stringify(v);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
  res.end(b);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (FAIL !== '' && url.pathname === FAIL) {
    return json(res, 500, { error: 'release ' + RELEASE + ' fails on ' + FAIL, release: RELEASE });
  }
  // A Server Action (a POST with Next-Action), checked as Next checks it
  // (action-handler.ts): the Origin's host must equal x-forwarded-host,
  // which Next's server sets from Host when the proxy sent none; else
  // Next aborts the action with a 500.
  if (req.method === 'POST' && req.headers['next-action']) {
    const fwd = req.headers['x-forwarded-host'] || req.headers.host || '';
    let origin = '';
    try { origin = new URL(req.headers.origin || '').host; } catch (e) { origin = ''; }
    if (origin !== fwd) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end('x-forwarded-host header with value ' + fwd + ' does not match origin header with value ' +
        origin + ' from a forwarded Server Actions request. Aborting the action.\n');
    }
    return json(res, 200, { release: RELEASE, action: 'ran', host: req.headers.host || '', forwarded_host: fwd });
  }
  if (req.method === 'POST' && url.pathname === '/api/echo') {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => {
      let body;
      try { body = JSON.parse(b); } catch (e) { return json(res, 400, { error: 'want a JSON body' }); }
      json(res, 200, { release: RELEASE, echo: body });
    });
    return;
  }
  if (req.method === 'GET' && (url.pathname === '/api/release' || url.pathname === '/api/health')) {
    return json(res, 200, { status: 'ok', release: RELEASE, pid: process.pid, cwd: process.cwd() });
  }
  if (req.method === 'GET' && (url.pathname === '/leak' || url.pathname === '/churn')) {
    const kb = Math.min(parseInt(url.searchParams.get('kb') || '16', 10) || 16, 1024);
    const got = allocate(kb, url.pathname + ' ' + Date.now());
    if (url.pathname === '/leak') leaked.push(got);
    return json(res, 200, { release: RELEASE, kb: kb, kept: leaked.length });
  }
  if (req.method === 'GET' && url.pathname === '/slow') {
    const ms = parseInt(url.searchParams.get('ms') || '1000', 10);
    setTimeout(() => json(res, 200, { release: RELEASE, slept: ms }), ms);
    return;
  }
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) });
    return res.end(page);
  }
  json(res, 404, { error: 'not found' });
});

// Like Next: exit at once on SIGINT/SIGTERM unless NEXT_MANUAL_SIG_HANDLE.
if (!process.env.NEXT_MANUAL_SIG_HANDLE) {
  process.on('SIGINT', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

const port = parseInt(process.env.PORT || '3000', 10);
const host = process.env.HOSTNAME || '0.0.0.0';
server.listen(port, host, () => {
  console.log('release ' + RELEASE + ' listening on ' + host + ':' + port);
});
`

// crashJS crashes at start, before listening, like a release with a
// missing module or a bad config.
const crashJS = `'use strict';
console.error('release RELEASE: cannot start');
throw new Error('release RELEASE crashes at start');
`

// Release is a release to deliver.
type Release struct {
	ID string
	// AppDir is where server.js goes inside the release ("" or "apps/web").
	AppDir string
	// Crash makes server.js throw at start.
	Crash bool
	// Fail is a URL path the release answers 500 on, whatever the
	// method ("/api/echo"): a bad release whose health URL is fine.
	Fail string
}

// Files returns the release tree: path -> content.
func (r Release) Files() map[string]string {
	src := serverJS
	if r.Crash {
		src = crashJS
	}
	dir := ""
	if r.AppDir != "" {
		dir = strings.TrimSuffix(r.AppDir, "/") + "/"
	}
	return map[string]string{
		dir + "server.js": strings.ReplaceAll(strings.ReplaceAll(src, "FAIL_PATH", strconv.Quote(r.Fail)), "RELEASE", r.ID),
		dir + ".next/static/chunks/main-" + r.ID + ".js": "console.log('chunk of " + r.ID + "');\n",
		dir + "package.json":                             `{"name":"tiny-next","private":true}` + "\n",
	}
}

// ChunkPath is the URL path of the release's chunk: nginx serves it from
// releases/<id>/<app dir>/.next/static/.
func (r Release) ChunkPath() string {
	return "/" + r.ID + "/_next/static/chunks/main-" + r.ID + ".js"
}

// Artifact packs the release as a .tar.gz and returns it with its
// manifest.
func (r Release) Artifact() ([]byte, release.Manifest, error) {
	files := r.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, release.Manifest{}, err
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			return nil, release.Manifest{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, release.Manifest{}, err
	}
	if err := zw.Close(); err != nil {
		return nil, release.Manifest{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	m := release.Manifest{
		ID: r.ID, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(buf.Len()),
		Files: len(files), AppDir: r.AppDir, Time: time.Now().UTC(),
	}
	return buf.Bytes(), m, nil
}

// Deliver puts the release on h under l, as deliver does.
func (r Release) Deliver(ctx context.Context, h remote.Host, l release.Layout) error {
	art, m, err := r.Artifact()
	if err != nil {
		return fmt.Errorf("pack test release %s: %w", r.ID, err)
	}
	if err := l.Ensure(ctx, h); err != nil {
		return err
	}
	files, _, err := tarball.List(ctx, bytes.NewReader(art), release.Gzip)
	if err != nil {
		return fmt.Errorf("list test release %s: %w", r.ID, err)
	}
	_, err = l.Receive(ctx, h, release.Upload{
		Manifest: m, Format: "gz", Files: files,
		Payload: bytes.NewReader(art), PayloadBytes: m.Bytes, PayloadSHA256: m.SHA256,
	})
	return err
}

// Dial connects to a host over SSH the way the CLI does.
func Dial(ctx context.Context, target, knownHostsFile, keyFile string) (remote.Host, error) {
	t, err := inventory.ParseEntry(target)
	if err != nil {
		return nil, err
	}
	d, err := remote.NewDialer(remote.SSHConfig{
		KnownHostsFile: knownHostsFile,
		KeyFile:        keyFile,
		ConnectTimeout: 15 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	return d.Dial(ctx, t)
}
