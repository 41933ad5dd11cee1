package initapp

import (
	"path/filepath"
	"testing"

	"github.com/org/next-deploy/internal/golden"
	"github.com/org/next-deploy/pkg/config"
)

// TestExamplesAreWhatInitWrites keeps examples/workflows equal to the
// workflows init writes by default, so what the examples are tested with
// (actionlint, test/actions, the act run against the bed) holds for init's
// too; go test -update rewrites the examples from the templates.
func TestExamplesAreWhatInitWrites(t *testing.T) {
	for _, w := range Workflows {
		got, err := RenderWorkflow(w, DefaultRunnerLabel, ".")
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("..", "..", "examples", "workflows", w.Name), []byte(got))
	}
}

// TestWorkflowsInAMonorepo: an app below the repository's root is named by
// app-directory in every caller.
func TestWorkflowsInAMonorepo(t *testing.T) {
	for _, w := range Workflows {
		got, err := RenderWorkflow(w, "on-prem", "apps/web")
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", "monorepo-"+w.Name), []byte(got))
	}
}

// TestSettingsFileParses: the next-deploy.yml init writes is one the
// commands read, with the three environments, placeholders and all.
func TestSettingsFileParses(t *testing.T) {
	text, err := render("next-deploy.yml", tmplData{Path: "/srv/shop", Name: "shop", Port: 3100})
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("next-deploy.yml", []byte(text))
	if err != nil {
		t.Fatalf("init's next-deploy.yml does not parse: %v\n%s", err, text)
	}
	if got, want := f.Names(), []string{"develop", "staging", "production"}; !equal(got, want) {
		t.Errorf("environments %v, want %v", got, want)
	}
	for _, env := range f.Names() {
		r, err := f.Resolve(env)
		if err != nil {
			t.Fatal(err)
		}
		for flag, want := range map[string]string{"path": "/srv/shop", "name": "shop", "port": "3100", "pm2-env": env, "health-url": "http://127.0.0.1:3100/"} {
			if got := r.Values[flag].Value; got != want {
				t.Errorf("%s: %s = %q, want %q", env, flag, got, want)
			}
		}
		if len(r.Hosts) == 0 || len(r.Shared) != 1 || r.Shared[0] != ".env.production" {
			t.Errorf("%s: hosts %v, shared %v; want placeholder hosts and [.env.production]", env, r.Hosts, r.Shared)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
