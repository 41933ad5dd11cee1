package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// Issue 16 ("Real apps"), items 1 and 2, on the bed (one host, real sshd
// and pm2) with the tiny Next-like server:
//
//  1. "An existing ecosystem silently wins over flags": a failed first
//     activate leaves no ecosystem behind; next-deploy's own ecosystem
//     is rewritten when the flags given differ (name, port), and put back
//     when the host goes back; a hand-written one is never rewritten, and
//     a flag that differs from it refuses the run, naming the difference.
//  2. "Rollback checks port 3000": rollback with no --health-url and no
//     --port checks the port the host's ecosystem gives the app.
func TestAppsEcosystemFollowsTheFlags(t *testing.T) {
	b := bed.Start(t, bed.Options{Hosts: 1, PM2: true})
	h := b.Hosts[0]
	for _, id := range []string{"v1", "v2"} {
		actTiny{}.ship(t, b, id, false)
	}
	actTiny{}.ship(t, b, "boom", true)
	// Steps go on after a failure: each sets up what it checks, so a run
	// against older code shows every defect.
	run := func(t *testing.T, name string, fn func(t *testing.T)) { t.Run(name, fn) }
	cli := func(args ...string) (int, string) {
		status, out, errOut := actCLI(t, b, args...)
		return status, out + errOut
	}

	run(t, "a failed first activate leaves no ecosystem and no app", func(t *testing.T) {
		status, out := cli("activate", "--release", "boom", "--hostname", "{host}", "--health-timeout", "10s")
		if status == 0 {
			t.Fatalf("activate of a crashing first release: exit 0\n%s", out)
		}
		if left := b.RunAs(t, h, `ls ~/app/ecosystem.config.js 2>/dev/null || true`); strings.TrimSpace(left) != "" {
			t.Errorf("the failed activate left %s\n%s", left, out)
		}
		if apps := pm2Apps(t, b, h); len(apps) != 0 {
			t.Errorf("the failed activate left pm2 apps %v\n%s\n%s", apps, out, b.RunAs(t, h, `pm2 jlist`))
		}
	})

	run(t, "flags given win over next-deploy's own ecosystem", func(t *testing.T) {
		// The file an earlier activate with the defaults wrote.
		eco, err := exec.Command(actBinary(t), "config", "pm2", "--path", "~/app", "--hostname", h.Addr).Output()
		if err != nil {
			t.Fatal(err)
		}
		b.RunAs(t, h, `cat > ~/app/ecosystem.config.js`+" <<'ECO'\n"+string(eco)+"ECO\n")
		status, out := cli("activate", "--release", "v1", "--name", "app-ts", "--port", "3202", "--hostname", "{host}")
		if status != 0 {
			t.Fatalf("activate --name app-ts --port 3202 over next-deploy's ecosystem (web, 3000): exit %d\n%s", status, out)
		}
		if !strings.Contains(out, "rewrote ecosystem.config.js") || !strings.Contains(out, "--port") {
			t.Errorf("activate did not say it rewrote the ecosystem:\n%s", out)
		}
		if apps := pm2Apps(t, b, h); strings.Join(apps, ",") != "app-ts" {
			t.Errorf("pm2 apps %v, want app-ts only", apps)
		}
		appServes(t, h.Addr+":3202", "v1")
	})

	run(t, "rollback checks the port the ecosystem gives", func(t *testing.T) {
		// An app on 3204, from an ecosystem of next-deploy's, activated
		// with an explicit --health-url (as the README showed it).
		eco, err := exec.Command(actBinary(t), "config", "pm2", "--path", "~/app", "--hostname", h.Addr, "--name", "app-ts", "--port", "3204").Output()
		if err != nil {
			t.Fatal(err)
		}
		b.RunAs(t, h, `pm2 delete all >/dev/null 2>&1 || true; cat > ~/app/ecosystem.config.js`+" <<'ECO'\n"+string(eco)+"ECO\n")
		if status, out := cli("activate", "--release", "v2", "--health-url", "http://{host}:3204/"); status != 0 {
			t.Fatalf("activate v2 of an app on 3204: exit %d\n%s", status, out)
		}
		appServes(t, h.Addr+":3204", "v2")
		start := time.Now()
		status, out := cli("rollback", "--to", "v1", "--health-timeout", "20s")
		if status != 0 {
			t.Fatalf("rollback (no --port, no --health-url) of an app on 3204: exit %d after %s\n%s", status, time.Since(start).Round(time.Second), out)
		}
		appServes(t, h.Addr+":3204", "v1")
	})

	run(t, "a failed activate with a new port puts the ecosystem back", func(t *testing.T) {
		before := b.RunAs(t, h, `cat ~/app/ecosystem.config.js`)
		status, out := cli("activate", "--release", "boom", "--port", "3206", "--health-timeout", "10s")
		if status != 1 || !strings.Contains(out, "rolled back") || strings.Contains(out, "failed too") {
			t.Fatalf("activate of a crashing release with --port 3206: exit %d, want 1, rolled back, not 'going back failed too'\n%s", status, out)
		}
		if after := b.RunAs(t, h, `cat ~/app/ecosystem.config.js`); after != before {
			t.Errorf("the ecosystem was not put back:\n%s", after)
		}
		appServes(t, h.Addr+":3204", "v1")
	})

	run(t, "a hand-written ecosystem is never rewritten, differences named", func(t *testing.T) {
		// The same app, as a user's file: without next-deploy's first line.
		b.RunAs(t, h, `cd ~/app && tail -n +2 ecosystem.config.js > eco.tmp && mv eco.tmp ecosystem.config.js`)
		before := b.RunAs(t, h, `cat ~/app/ecosystem.config.js`)
		status, out := cli("activate", "--release", "v2", "--port", "3300", "--name", "other")
		if status == 0 || !strings.Contains(out, "port is 3204 in the file, --port says 3300") || !strings.Contains(out, `--name says "other"`) {
			t.Errorf("activate --port 3300 --name other with a hand-written ecosystem: exit %d, want a refusal naming both\n%s", status, out)
		}
		if after := b.RunAs(t, h, `cat ~/app/ecosystem.config.js`); after != before {
			t.Errorf("the hand-written ecosystem was changed:\n%s", after)
		}
		appServes(t, h.Addr+":3204", "v1")
		if status, out := cli("activate", "--release", "v2"); status != 0 {
			t.Errorf("activate without flags, hand-written ecosystem on 3204: exit %d\n%s", status, out)
		}
		appServes(t, h.Addr+":3204", "v2")
	})
}

// pm2Apps lists the names of the pm2 apps of h's login.
func pm2Apps(t *testing.T, b *bed.Bed, h *bed.Host) []string {
	t.Helper()
	var procs []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(b.RunAs(t, h, `pm2 jlist`)), &procs); err != nil {
		t.Fatalf("pm2 jlist on %s: %v", h.Name(), err)
	}
	var names []string
	for _, p := range procs {
		if len(names) == 0 || names[len(names)-1] != p.Name {
			names = append(names, p.Name)
		}
	}
	return names
}

// appServes checks that the app at addr serves a page of release id.
func appServes(t *testing.T, addr, id string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/")
	if err != nil {
		t.Errorf("GET %s: %v", addr, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/"+id+"/_next/") {
		t.Errorf("GET %s: %d %.200s; want a page of %s", addr, resp.StatusCode, body, id)
	}
}
