package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/cli"
)

// TestPnpmNext13BuildLeavesTheCheckoutAlone guards against the field
// report of issue 16: a pnpm app on Next 13 whose @types/react comes only
// through pnpm's hoisting (a peer of @types/react-dom) built as
// node node_modules/next/dist/bin/next, without the NODE_PATH of pnpm's
// .bin wrapper: Next did not find @types/react, ran pnpm add itself, and
// edited package.json and pnpm-lock.yaml in the checkout. Run through
// pnpm exec, Next finds it and the checkout stays as committed. One small
// next build: under CI=true, or with ND_COMPAT set.
func TestPnpmNext13BuildLeavesTheCheckoutAlone(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("ND_COMPAT") == "" {
		t.Skip("a real next build: set ND_COMPAT=ci (always under CI=true)")
	}
	for _, tool := range []string{"node", "pnpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (.ci/run installs pnpm): %v", tool, err)
		}
	}
	dir := t.TempDir()
	l := nextLines[0]
	writeFile(t, filepath.Join(dir, "package.json"), `{
  "name": "pnpm-next13",
  "private": true,
  "dependencies": {"next": "`+l.next+`", "react": "`+l.react+`", "react-dom": "`+l.react+`"},
  "devDependencies": {"typescript": "5.9.3", "@types/react-dom": "`+l.typesReactDOM+`", "@types/node": "20.19.43"}
}
`)
	writeFile(t, filepath.Join(dir, "next.config.js"), nextConfigJS)
	writeFile(t, filepath.Join(dir, "pages", "index.tsx"), "export default function Home() {\n  return <h1>next-deploy fixture</h1>;\n}\n")
	run(t, dir, "pnpm", "install", "--lockfile-only")
	before := map[string][]byte{}
	for _, f := range []string{"package.json", "pnpm-lock.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		must(t, err)
		before[f] = b
	}
	var res buildJSON
	out := local(t, "build-standalone", "--dir", dir, "--release", "pnpm13", "--install", "auto", "--json")
	if _, err := cli.DecodeEnvelope(out, &res); err != nil {
		t.Fatalf("build-standalone --json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(res.NextCommand, "pnpm exec next build") || res.NextVersion != l.next {
		t.Errorf("next %s started as %q, want next %s through pnpm exec", res.NextVersion, res.NextCommand, l.next)
	}
	for f, want := range before {
		if got, _ := os.ReadFile(filepath.Join(dir, f)); string(got) != string(want) {
			t.Errorf("%s changed during the build:\n%s", f, got)
		}
	}
}
