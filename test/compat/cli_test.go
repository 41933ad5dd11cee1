package compat

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/internal/cli"
)

// bin is the CLI, built once by TestMain into a directory of its own.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "next-deploy-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "next-deploy")
	status := 1
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/org/next-deploy/cmd/next-deploy").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
	} else {
		status = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(status)
}

// buildJSON is what build-standalone --json says.
type buildJSON struct {
	StandaloneDir  string    `json:"standalone_dir"`
	AppDir         string    `json:"app_dir"`
	Release        string    `json:"release"`
	Installed      bool      `json:"installed"`
	InstallSkipped string    `json:"install_skipped"`
	InstallSeconds float64   `json:"install_seconds"`
	NextVersion    string    `json:"next_version"`
	NextCommand    string    `json:"next_command"`
	NextConfig     *struct{} `json:"next_config"`
	Warnings       []string  `json:"warnings"`
	Seconds        float64   `json:"duration_seconds"`
}

// packJSON is what pack --json says.
type packJSON struct {
	Artifact string `json:"artifact"`
	Bytes    int64  `json:"bytes"`
}

type built struct {
	build buildJSON
	pack  packJSON
}

// buildPack builds project as release id (--install auto), copies the
// static files in, and packs into artifacts.
func buildPack(t *testing.T, project, id, artifacts string) built {
	t.Helper()
	var b built
	out := local(t, "build-standalone", "--dir", project, "--release", id, "--install", "auto", "--json")
	if _, err := cli.DecodeEnvelope(out, &b.build); err != nil {
		t.Fatalf("build-standalone --json: %v\n%s", err, out)
	}
	t.Logf("%s: next %s built in %.1fs (%s; install: %s %s)", id, b.build.NextVersion, b.build.Seconds, b.build.NextCommand, installText(b.build), b.build.InstallSkipped)
	local(t, "postbuild-copy-static", "--dir", project)
	out = local(t, "pack", "--source", b.build.StandaloneDir, "--release", id, "--output-dir", artifacts, "--json")
	if _, err := cli.DecodeEnvelope(out, &b.pack); err != nil {
		t.Fatalf("pack --json: %v\n%s", err, out)
	}
	return b
}

// local runs a CLI step that touches no host and returns its stdout.
func local(t *testing.T, args ...string) []byte {
	t.Helper()
	return runCLI(t, nil, args...)
}

// delivered is one host's line of deliver --json.
type delivered struct {
	Host  string `json:"host"`
	Mode  string `json:"mode"`
	Base  string `json:"base"`
	Bytes int64  `json:"bytes"`
}

func deliver(t *testing.T, h host, artifact string) delivered {
	t.Helper()
	var r struct {
		Hosts []delivered `json:"hosts"`
	}
	out := h.cli(t, "deliver", "--artifact", artifact, "--json")
	if _, err := cli.DecodeEnvelope(out, &r); err != nil || len(r.Hosts) != 1 {
		t.Fatalf("deliver --json: %v\n%s", err, out)
	}
	return r.Hosts[0]
}

// activate switches the host to release id.
func activate(t *testing.T, h host, id string) {
	t.Helper()
	h.cli(t, append([]string{"activate", "--release", id, "--health-timeout", "60s"}, h.activateFlags()...)...)
}

// tableHead is the table's header.
const tableHead = "| cell | next | package manager | next started as | install r1 | build r1 (s) | install r2 | build r2 (s) | artifact (MiB) | r2 delta (% of artifact) | deliver r2 (s) | activate r2 (s) | page | r1 chunk | listens on | result |\n" +
	"|---|---|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---|---|---|\n"

// markdown is the matrix as a Markdown table.
func markdown(rows []*row) string {
	var b strings.Builder
	b.WriteString(tableHead)
	for _, r := range rows {
		b.WriteString(r.line())
	}
	return b.String()
}

// line is the row's line of the table.
func (r *row) line() string {
	return fmt.Sprintf("| %s | %s | %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		r.cell, r.next, r.pm, r.command, r.install1, num(r.build1), r.install2, num(r.build2),
		num(r.artifactMiB), num(r.deltaPercent), num(r.deliver2), num(r.activate2), r.page, r.chunk, r.listens, r.result)
}

// docLines are the table lines of a docs/compatibility.md by cell name.
func docLines(doc string) map[string]string {
	b, _ := os.ReadFile(doc)
	lines := map[string]string{}
	for l := range strings.Lines(string(b)) {
		if f := strings.Split(l, "|"); len(f) > 2 && strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| cell ") {
			lines[strings.TrimSpace(f[1])] = l
		}
	}
	return lines
}

func num(f float64) string {
	if f == 0 {
		return ""
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// hostsText says where the cells deployed.
func hostsText() string {
	if os.Getenv("ND_COMPAT_HOSTS") == "local" {
		return "ND_COMPAT_HOSTS=local: this machine as `--hosts local`, with a pm2 daemon and an nginx " +
			"running the server block of `config nginx`, as the machine's one bed was busy; CI deploys to a bed host"
	}
	return "a bed host: sshd, pm2, and nginx with the static location of `config nginx`"
}

// document is docs/compatibility.md around the table.
func document(table string, ran, of int) string {
	return `# Compatibility matrix

Produced by ` + "`ND_COMPAT=all go test ./test/compat -run TestCompat -v -timeout 0`" + ` (as root;
` + "`ND_COMPAT=missing`" + ` runs the cells a run cut short left out, keeping the other rows) on ` + time.Now().UTC().Format("2006-01-02") + `, Node ` + toolVersion("node") + `, on a 2-core machine shared
with other work (the seconds are indicative). CI runs the cells ` + "`" + strings.Join(ciCells, "`, `") + "`" + `
on every run (ND_COMPAT unset under CI=true); ` + "`ND_COMPAT=<cell>,<cell>`" + ` runs any others.

Each cell is the fixture app (test/fixtures/next-app: App Router; "pages": the
same app with a Pages Router page and API route instead of app/) with that
Next.js line (React 18 for 13.5 and 14, 19 for 15 and 16; next.config.js
before 15), its lockfile made by that package manager ("monorepo": the npm
workspaces fixture, server.js under apps/web). For each cell:

1. build-standalone r1 (` + "`--install auto`" + `: the install, then next build through the
   package manager), postbuild-copy-static, pack;
2. the home page changed by one line, build-standalone r2 (` + "`--install auto`" + ` again:
   npm's install is skipped when node_modules matches package-lock.json; pnpm
   and yarn check that themselves in their frozen install), postbuild-copy-static, pack;
3. on a host (` + hostsText() + `):
   deliver r1 (full), activate r1, deliver r2 (a delta from r1), activate r2;
4. GET / through nginx: r2's page; GET a file of r1's ` + "`/<r1>/_next/static/<r1>/`" + ` through
   nginx: 200 (a browser holding an r1 page still gets its chunks).

"build" is next build alone, in seconds; "install" is how long the install
took, or "skipped" when build-standalone found node_modules matching
package-lock.json (npm; for pnpm and yarn the frozen install runs and
makes that check itself). "r2 delta" is what deliver sent for r2, in
per cent of r2's artifact. "listens on" is where the host user's processes
(the app's workers under pm2 with ` + "`--hostname`" + ` set, its nginx) listen. ` + fmt.Sprintf("%d of the %d cells ran.", ran, of) + `

` + table
}
