package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
	"github.com/org/next-deploy/test/bed"
)

// TestHooksAndSharedFromConfig is a deploy driven only by next-deploy.yml
// and --env staging, on the bed: two hosts whose apps listen on ports of
// their own (app_port 3101 and 3102), hooks of every kind, and
// .env.production shared from <path>/shared/.
//   - deliver refuses, naming the host and the file, while one host lacks
//     .env.production, and sends nothing anywhere; once both have it,
//     every release links it (and uploads/) in place of the artifact's
//     own copies, with a warning;
//   - activate runs pre_deploy on the runner, before_activate once, on the
//     first host, inside the new release before any switch (its marker
//     says where current pointed then), after_activate on each host in
//     current, and post_deploy on the runner with the release, previous
//     release and result;
//   - each host's app reads its own .env.production through the link (a
//     page shows the value), for the first release and the next (a delta);
//   - a release whose migration fails switches no host, leaves no lock,
//     and post_deploy hears "failed";
//   - releases --env staging needs no other flag.
//
// The app is the tiny Next-like server of pm2test, reading .env.production
// from its working directory at start as Next's standalone server.js does
// (its loadEnvConfig on its own folder, which is pm2's cwd here): what is
// under test is that the file is there, through current and the link; a
// real next build would add minutes and prove Next, not next-deploy.
func TestHooksAndSharedFromConfig(t *testing.T) {
	arts := map[string]string{}
	for _, id := range []string{"v1", "v2", "bad3"} {
		arts[id] = faultArtifact(t, id, hooksRelease(t, id), 0)
	}
	b := bed.Start(t, bed.Options{Hosts: 2, PM2: true})
	app := hooksConfig(t, b)
	h0, h1 := b.Hosts[0], b.Hosts[1]
	hooksShared(t, b, h0)

	step(t, "deliver refuses a host without .env.production", func(t *testing.T) {
		status, out, errOut := hooksCLI(t, app, "deliver", "--env", "staging", "--artifact", arts["v1"])
		want := "shared ~/app/shared/.env.production on " + h1.Target() + ": missing: create ~/app/shared/.env.production on " + h1.Target()
		if status != 1 || !strings.Contains(out+errOut, want) {
			t.Fatalf("deliver: exit %d, want 1 saying %q\n%s\n%s", status, want, out, errOut)
		}
		for _, h := range b.Hosts {
			if got := releasesDir(t, h); len(got) != 0 {
				t.Errorf("%s: releases/ holds %v after a refused preflight, want nothing", h.Name(), got)
			}
		}
	})
	hooksShared(t, b, h1)
	step(t, "deliver links the shared entries", func(t *testing.T) {
		_, errOut := hooksOK(t, app, "deliver", "--env", "staging", "--artifact", arts["v1"])
		if !strings.Contains(errOut, "warning: the artifact holds .env.production: every release links it from ~/app/shared/") {
			t.Errorf("no warning that the artifact's .env.production is dropped:\n%s", errOut)
		}
		for _, h := range b.Hosts {
			got := b.RunAs(t, h, `cd ~/app/releases/v1 && readlink .env.production uploads && ls ~/app/shared/uploads | wc -l`)
			if want := "../../shared/.env.production\n../../shared/uploads\n0\n"; got != want {
				t.Errorf("%s: links and shared uploads/: %q, want %q", h.Name(), got, want)
			}
		}
	})
	step(t, "activate v1 runs the hooks", func(t *testing.T) { hooksActivate(t, b, app, "v1", "none", "none") })
	step(t, "v2, delivered as a delta, runs them again", func(t *testing.T) {
		out, _ := hooksOK(t, app, "deliver", "--env", "staging", "--artifact", arts["v2"])
		if strings.Count(out, "delta from v1") != 2 {
			t.Errorf("v2 did not go to both hosts as a delta from v1 (whose tree holds the links):\n%s", out)
		}
		hooksActivate(t, b, app, "v2", "v1", "releases/v1")
	})
	step(t, "a failing before_activate switches no host", func(t *testing.T) {
		hooksOK(t, app, "deliver", "--env", "staging", "--artifact", arts["bad3"])
		status, out, errOut := hooksCLI(t, app, "activate", "--env", "staging", "--release", "bad3")
		for _, want := range []string{"activate bad3 stopped, no host was switched: before_activate on " + h0.Target(), "relation users already exists"} {
			if status != 1 || !strings.Contains(out+errOut, want) {
				t.Errorf("activate bad3: exit %d, want 1 saying %q\n%s\n%s", status, want, out, errOut)
			}
		}
		for _, h := range b.Hosts {
			if cur := actCurrent(t, b, h); cur != "v2" {
				t.Errorf("%s: current -> %s after a failed migration, want v2", h.Name(), cur)
			}
			if after := b.RunAs(t, h, `cat ~/after.log`); strings.Contains(after, "bad3") {
				t.Errorf("%s: after_activate ran for bad3:\n%s", h.Name(), after)
			}
		}
		faultIntact(t, b.Hosts...)
		hooksGreeting(t, b)
		if post := hooksLast(t, filepath.Join(app, "post.log")); post != "bad3 failed v2 "+b.Hosts[0].Target()+","+b.Hosts[1].Target() {
			t.Errorf("post_deploy heard %q, want bad3 failed, previous v2", post)
		}
	})
	step(t, "releases --env staging needs no other flag", func(t *testing.T) {
		out, _ := hooksOK(t, app, "releases", "--env", "staging")
		for _, want := range []string{h0.Target(), h1.Target(), "v1", "v2", "bad3", "current", "previous"} {
			if !strings.Contains(out, want) {
				t.Errorf("releases lacks %q:\n%s", want, out)
			}
		}
	})
}

// hooksRelease is release id's files besides pm2test's: its server.js
// reads .env.production at start and shows GREETING at /greeting; the
// checkout left a .env.production and the build an uploads/ folder; its
// migration (bad3's fails) logs where it ran and what was current then.
func hooksRelease(t *testing.T, id string) map[string]string {
	t.Helper()
	src := pm2test.Release{ID: id}.Files()["server.js"]
	const at = "const server = http.createServer((req, res) => {\n"
	if !strings.Contains(src, at) {
		t.Fatalf("pm2test's server.js has no %q to add a route at", at)
	}
	src = strings.Replace(src, at, `const dotenv = {};
try {
  for (const line of require('fs').readFileSync('.env.production', 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) dotenv[m[1]] = m[2];
  }
} catch (e) { console.error('no .env.production in ' + process.cwd() + ': ' + e.message); }
`+at+`  if (req.url === '/greeting') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(String(dotenv.GREETING || 'none'));
  }
`, 1)
	migrate := `echo "migrating $NEXT_DEPLOY_RELEASE"
printf '%s %s %s %s\n' "$NEXT_DEPLOY_RELEASE" "${NEXT_DEPLOY_PREVIOUS:-none}" "$NEXT_DEPLOY_HOST" "$(readlink ../../current || echo none)" >> migrated.log
`
	if id == "bad3" {
		migrate = "echo 'ERROR: relation users already exists' >&2\nexit 1\n"
	}
	// The same incompressible bytes in every release, so the next one
	// goes as a delta over a base that holds the links.
	blob := make([]byte, 512<<10)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(blob)
	return map[string]string{
		"node_modules/blob/data.bin": string(blob),
		"server.js":                  src,
		".env.production":            "GREETING=from the checkout\n",
		"uploads/from-build.png":     "png",
		"migrate.sh":                 migrate,
	}
}

// hooksConfig writes next-deploy.yml for the bed in an app folder of its
// own and returns the folder.
func hooksConfig(t *testing.T, b *bed.Bed) string {
	t.Helper()
	app := t.TempDir()
	var hosts strings.Builder
	for i, h := range b.Hosts {
		fmt.Fprintf(&hosts, "      - {host: %s, user: %s, port: %d, app_port: %d}\n", h.Addr, h.User, h.Port, 3101+i)
	}
	file := `path: ~/app
known_hosts_file: ` + b.KnownHostsFile + `
ssh_key_file: ` + b.ClientKeyFile + `
environments:
  staging:
    hosts:
` + hosts.String() + `    hostname: "{host}"
    port: 3000
    pm2_env: staging
    health_url: http://{host}:3000/
    health_timeout: 30s
    shared: [.env.production, uploads/]
    hooks:
      pre_deploy: echo "$NEXT_DEPLOY_RELEASE" >> pre.log
      before_activate: sh ./migrate.sh
      after_activate: printf '%s %s %s\n' "$NEXT_DEPLOY_RELEASE" "$NEXT_DEPLOY_HOST" "$(pwd)" >> ~/after.log
      post_deploy:
        run: echo "$NEXT_DEPLOY_RELEASE $NEXT_DEPLOY_RESULT $NEXT_DEPLOY_PREVIOUS $NEXT_DEPLOY_HOSTS" >> post.log
        timeout: 30s
`
	if err := os.WriteFile(filepath.Join(app, config.FileName), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	return app
}

// hooksShared puts h's runtime secrets in place, as its operator would.
func hooksShared(t *testing.T, b *bed.Bed, h *bed.Host) {
	t.Helper()
	b.RunAs(t, h, `mkdir -p ~/app/shared && umask 077 && printf 'GREETING=hello from %s\n' "$1" > ~/app/shared/.env.production`, h.Name())
}

// hooksActivate activates id and checks every hook: before_activate once,
// on the first host, in the release, before any switch (current was
// wasCurrent, the previous release prev); after_activate on each host in
// current; pre_deploy and post_deploy on the runner.
func hooksActivate(t *testing.T, b *bed.Bed, app, id, prev, wasCurrent string) {
	t.Helper()
	_, errOut := hooksOK(t, app, "activate", "--env", "staging", "--release", id)
	t.Logf("activate %s:\n%s", id, errOut)
	h0 := b.Hosts[0]
	if want := h0.Target() + ": before_activate: migrating " + id; !strings.Contains(errOut, want) {
		t.Errorf("before_activate's output is not streamed under its host (%q):\n%s", want, errOut)
	}
	for i, h := range b.Hosts {
		migrated := b.RunAs(t, h, `cat ~/app/releases/"$1"/migrated.log 2>/dev/null || true`, id)
		want := ""
		if i == 0 {
			want = fmt.Sprintf("%s %s %s %s\n", id, prev, h0.Target(), wasCurrent)
		}
		if migrated != want {
			t.Errorf("%s: before_activate's marker in release %s = %q, want %q (once, on the first host, before the switch)", h.Name(), id, migrated, want)
		}
		after := hooksLastLine(b.RunAs(t, h, `cat ~/after.log`))
		if want := id + " " + h.Target() + " " + h.DeployPath + "/current"; after != want {
			t.Errorf("%s: after_activate logged %q, want %q", h.Name(), after, want)
		}
		if cur := actCurrent(t, b, h); cur != id {
			t.Errorf("%s: current -> %s, want %s", h.Name(), cur, id)
		}
	}
	hooksGreeting(t, b)
	if pre := hooksLast(t, filepath.Join(app, "pre.log")); pre != id {
		t.Errorf("pre_deploy logged %q, want %s", pre, id)
	}
	prevVar := prev
	if prev == "none" {
		prevVar = ""
	}
	if post, want := hooksLast(t, filepath.Join(app, "post.log")), id+" ok "+prevVar+" "+b.Hosts[0].Target()+","+b.Hosts[1].Target(); post != want {
		t.Errorf("post_deploy heard %q, want %q", post, want)
	}
}

// hooksGreeting checks that each host's app, on its own port, shows the
// value of its own .env.production.
func hooksGreeting(t *testing.T, b *bed.Bed) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	for i, h := range b.Hosts {
		url := fmt.Sprintf("http://%s:%d/greeting", h.Addr, 3101+i)
		resp, err := c.Get(url)
		if err != nil {
			t.Errorf("%s: GET %s: %v", h.Name(), url, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "hello from " + h.Name(); string(body) != want {
			t.Errorf("%s: %s shows %q, want %q from its shared .env.production", h.Name(), url, body, want)
		}
	}
}

// hooksCLI runs the CLI in the app folder with no flag but those given:
// next-deploy.yml says the rest.
func hooksCLI(t *testing.T, app string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(actBinary(t), args...)
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=", "SSH_AUTH_SOCK=", "NEXT_DEPLOY_ENV=", "NEXT_DEPLOY_CONFIG=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan struct{})
	time.AfterFunc(5*time.Minute, func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	err := cmd.Run()
	close(done)
	status := cmd.ProcessState.ExitCode()
	if err != nil && status == 0 {
		t.Fatalf("next-deploy %s: %v", args[0], err)
	}
	return status, stdout.String(), stderr.String()
}

func hooksOK(t *testing.T, app string, args ...string) (string, string) {
	t.Helper()
	status, out, errOut := hooksCLI(t, app, args...)
	if status != 0 {
		t.Fatalf("next-deploy %s: exit %d\n%s\n%s", strings.Join(args, " "), status, out, errOut)
	}
	return out, errOut
}

// hooksLast is the last line of a file the runner's hooks append to.
func hooksLast(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Errorf("%s: %v", filepath.Base(file), err)
		return ""
	}
	return hooksLastLine(string(b))
}

func hooksLastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
