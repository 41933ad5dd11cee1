package compat

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/build"
)

// nextLine is one Next.js release line with the React it builds with.
// Versions are exact and exist on the npm registry.
type nextLine struct {
	label, next, react, typesReact, typesReactDOM string
	// tsConfig: next.config.ts is read (15+); older lines get next.config.js.
	tsConfig bool
}

var nextLines = []nextLine{
	{"13.5", "13.5.11", "18.3.1", "18.3.32", "18.3.7", false},
	{"14", "14.2.35", "18.3.1", "18.3.32", "18.3.7", false},
	{"15", "15.5.29", "19.3.1", "19.3.0", "19.3.0", true},
	{"16", "16.4.6", "19.3.1", "19.3.0", "19.3.0", true},
}

// cell is one combination of the matrix.
type cell struct {
	line   nextLine
	pm     string // npm, pnpm, yarn
	router string // app, pages
	mono   bool   // the npm workspaces monorepo (apps/web)
}

func (c cell) name() string {
	if c.mono {
		return c.line.label + "-" + c.pm + "-monorepo"
	}
	return c.line.label + "-" + c.pm + "-" + c.router
}

// ciCells run under CI=true: the oldest line on npm with the Pages
// Router, 15 on pnpm, 16 on yarn. The monorepo is built by test/buildside
// and deployed by the full matrix.
var ciCells = []string{"13.5-npm-pages", "15-pnpm-app", "16-yarn-app"}

// firstCells follow the CI cells in a full run: every line, package
// manager and router early, so that a run cut short still says much.
var firstCells = []string{"16-npm-monorepo", "14-npm-app", "13.5-pnpm-app", "14-yarn-pages",
	"15-npm-pages", "16-pnpm-pages", "13.5-yarn-app", "14-pnpm-app", "15-yarn-pages", "16-npm-app"}

// allCells is the full matrix in the order a full run takes it.
func allCells() []cell {
	var cells []cell
	for _, l := range nextLines {
		for _, pm := range []string{"npm", "pnpm", "yarn"} {
			for _, r := range []string{"app", "pages"} {
				cells = append(cells, cell{line: l, pm: pm, router: r})
			}
		}
	}
	cells = append(cells, cell{line: nextLines[3], pm: "npm", router: "app", mono: true})
	rank := func(c cell) int {
		if i := slices.Index(ciCells, c.name()); i >= 0 {
			return i
		}
		if i := slices.Index(firstCells, c.name()); i >= 0 {
			return len(ciCells) + i
		}
		return len(ciCells) + len(firstCells)
	}
	slices.SortStableFunc(cells, func(a, b cell) int { return rank(a) - rank(b) })
	return cells
}

// selected is what ND_COMPAT asks for (full: write the doc); nil: skip.
func selected(t *testing.T) (cells []cell, full bool) {
	want := os.Getenv("ND_COMPAT")
	if want == "" && os.Getenv("CI") == "true" {
		want = "ci"
	}
	all := allCells()
	switch want {
	case "":
		return nil, false
	case "all":
		return all, true
	case "missing": // the cells docs/compatibility.md has no row for
		have := docLines(docFile())
		return slices.DeleteFunc(all, func(c cell) bool { return have[c.name()] != "" }), true
	case "ci":
		want = strings.Join(ciCells, ",")
	}
	for name := range strings.SplitSeq(want, ",") {
		i := slices.IndexFunc(all, func(c cell) bool { return c.name() == strings.TrimSpace(name) })
		if i < 0 {
			t.Fatalf("ND_COMPAT: no cell %q", name)
		}
		cells = append(cells, all[i])
	}
	return cells, false
}

// layout makes the cell's app in root and returns the project directory
// (where next.config is) and the lockfile generation's duration.
func (c cell) layout(t *testing.T, root string) (project string, took time.Duration) {
	t.Helper()
	project = root
	if c.mono {
		copyTree(t, fixture("next-monorepo"), root)
		project = filepath.Join(root, "apps", "web")
		for _, name := range []string{"app", "components", "lib", "public", "next.config.ts", "tsconfig.json"} {
			copyTree(t, filepath.Join(fixture("next-app"), name), filepath.Join(project, name))
		}
	} else {
		copyTree(t, fixture("next-app"), root)
	}
	// The skew protection pages (test/skew) use React 19's useActionState,
	// which the React 18 lines lack, and the Pages Router variant drops
	// app/ they import from: the matrix is about the pipeline, not skew.
	for _, name := range []string{"app/skew", "components/NoteForm.tsx", "components/ReleaseBadge.tsx"} {
		must(t, os.RemoveAll(filepath.Join(project, name)))
	}
	if !c.line.tsConfig {
		must(t, os.Remove(filepath.Join(project, "next.config.ts")))
		writeFile(t, filepath.Join(project, "next.config.js"), nextConfigJS)
	}
	if c.router == "pages" {
		must(t, os.RemoveAll(filepath.Join(project, "app")))
		for name, body := range pagesRouter {
			writeFile(t, filepath.Join(project, name), body)
		}
	}
	if c.line.label == "16" && c.pm == "npm" {
		return project, 0 // the fixture as committed, lockfile and all
	}
	c.pin(t, filepath.Join(project, "package.json"))
	must(t, os.Remove(filepath.Join(root, "package-lock.json")))
	start := time.Now()
	lock := map[string][]string{
		"npm":  {"npm", "install", "--package-lock-only", "--no-audit", "--no-fund"},
		"pnpm": {"pnpm", "install", "--lockfile-only"},
		// yarn 1 has no lockfile-only install: this one fills node_modules too.
		"yarn": {"yarn", "install", "--non-interactive", "--no-progress"},
	}[c.pm]
	run(t, root, lock...)
	// The build's install starts from nothing, as on a CI runner.
	must(t, os.RemoveAll(filepath.Join(root, "node_modules")))
	return project, time.Since(start)
}

// pin rewrites the versions of next, react and their types.
func (c cell) pin(t *testing.T, file string) {
	t.Helper()
	var pkg map[string]any
	b, err := os.ReadFile(file)
	must(t, err)
	must(t, json.Unmarshal(b, &pkg))
	set := func(section, name, version string) {
		if m, ok := pkg[section].(map[string]any); ok {
			m[name] = version
		}
	}
	set("dependencies", "next", c.line.next)
	set("dependencies", "react", c.line.react)
	set("dependencies", "react-dom", c.line.react)
	set("devDependencies", "@types/react", c.line.typesReact)
	set("devDependencies", "@types/react-dom", c.line.typesReactDOM)
	out, err := json.MarshalIndent(pkg, "", "  ")
	must(t, err)
	writeFile(t, file, string(out)+"\n")
}

// homePage is the file of "/" and the line the second release changes.
func (c cell) homePage(project string) string {
	if c.router == "pages" {
		return filepath.Join(project, "pages", "index.tsx")
	}
	return filepath.Join(project, "app", "page.tsx")
}

// nextConfigJS is the fixture's next.config.ts for Next before 15, which
// reads only next.config.js.
const nextConfigJS = `// The fixture's next.config.ts, for Next before 15.
module.exports = {
  output: "standalone",
  assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX,
  generateBuildId: async () => process.env.NEXT_DEPLOY_RELEASE ?? null,
  env: {
    NEXT_DEPLOY_RELEASE: process.env.NEXT_DEPLOY_RELEASE ?? "dev",
    NEXT_DEPLOY_TEST_ROUTES: "",
  },
};
`

// pagesRouter is the Pages Router variant: the app/ directory replaced
// by a page and the health route.
var pagesRouter = map[string]string{
	"pages/index.tsx": `import { release } from "@/lib/data";

export default function Home() {
  return (
    <>
      <h1>next-deploy fixture</h1>
      <p>
        Release <code id="release">{release}</code> (Pages Router)
      </p>
    </>
  );
}
`,
	"pages/api/health.ts": `import type { NextApiRequest, NextApiResponse } from "next";
import { release } from "@/lib/data";

export default function handler(_req: NextApiRequest, res: NextApiResponse) {
  res.status(200).json({ status: "ok", release, pid: process.pid });
}
`,
}

// versions of the tools, for the table.
func toolVersion(name string) string {
	out, err := exec.Command(name, "--version").Output()
	if err != nil {
		return "missing"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
}

func fixture(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "fixtures", name)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	must(t, build.CopySources(src, dst))
}

func writeFile(t *testing.T, file, body string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(file), 0o755))
	must(t, os.WriteFile(file, []byte(body), 0o644))
}

// run runs a command in dir; its output goes to the test log on failure.
func run(t *testing.T, dir string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(argv, " "), dir, err, tail(string(out), 3000))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

var _ = fmt.Sprint
