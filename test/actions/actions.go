// Package actions reads the repository's GitHub Actions files (the
// all-in-one action.yml, actions/<step>/action.yml, the workflows under
// .github/workflows and examples) for the tests that check them: here, the
// ones that need only the files; in cmd/next-deploy, the ones that compare
// inputs with the CLI's flags. A file is read with github.com/goccy/go-yaml
// into a Map that keeps its keys in order.
package actions

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

const (
	// Repo and MajorRef are how users reference the actions:
	// Repo + "/actions/deliver@" + MajorRef.
	Repo     = "org/next-deploy"
	MajorRef = "v1"
)

// Steps are the one-step actions under actions/, in pipeline order.
var Steps = []string{
	"build-standalone", "postbuild-copy-static", "pack", "deliver",
	"barrier-wait", "activate", "prune", "rollback",
}

// Files are every action and workflow file of the repository at root.
func Files(t testing.TB, root string) (actions, workflows []string) {
	t.Helper()
	actions = []string{filepath.Join(root, "action.yml")}
	for _, s := range Steps {
		actions = append(actions, filepath.Join(root, "actions", s, "action.yml"))
	}
	for _, dir := range []string{".github/workflows", "examples"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				workflows = append(workflows, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return actions, workflows
}

// Map is a YAML mapping that keeps its keys in order. Its values are
// *Map, []any or string: every scalar is read as its string, as the
// runner hands inputs to a program (required: true is "true"; a missing
// value is "").
type Map struct {
	keys []string
	vals map[string]any
}

// Names are the keys in order; none for a missing mapping.
func (m *Map) Names() []string {
	if m == nil {
		return nil
	}
	return m.keys
}

// Get is the value under k; nil for a missing key or mapping.
func (m *Map) Get(k string) any {
	if m == nil {
		return nil
	}
	return m.vals[k]
}

// Path follows keys through nested mappings.
func (m *Map) Path(keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(*Map)
		if !ok {
			return nil
		}
		v = mm.Get(k)
	}
	return v
}

// MapAt is the mapping at keys; nil when there is none.
func (m *Map) MapAt(keys ...string) *Map {
	mm, _ := m.Path(keys...).(*Map)
	return mm
}

// ListAt is the sequence at keys; nil when there is none.
func (m *Map) ListAt(keys ...string) []any {
	l, _ := m.Path(keys...).([]any)
	return l
}

// Walk calls fn with every node under v and its path (".jobs.a.steps[0].run").
func Walk(v any, path string, fn func(path string, v any)) {
	fn(path, v)
	switch n := v.(type) {
	case *Map:
		for _, k := range n.keys {
			Walk(n.vals[k], path+"."+k, fn)
		}
	case []any:
		for i, e := range n {
			Walk(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// Parse reads a YAML document that is a mapping. Duplicate keys are
// refused.
func Parse(data []byte) (*Map, error) {
	var v any
	if err := yaml.UnmarshalWithOptions(data, &v, yaml.UseOrderedMap()); err != nil {
		return nil, err
	}
	m, ok := tree(v).(*Map)
	if !ok {
		return nil, fmt.Errorf("not a mapping")
	}
	return m, nil
}

// Load reads the mapping in file, failing the test when it cannot.
func Load(t testing.TB, file string) *Map {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

// tree turns what go-yaml decoded into *Map, []any and strings.
func tree(v any) any {
	switch n := v.(type) {
	case yaml.MapSlice:
		m := &Map{vals: map[string]any{}}
		for _, item := range n {
			k := fmt.Sprint(item.Key)
			m.keys = append(m.keys, k)
			m.vals[k] = tree(item.Value)
		}
		return m
	case []any:
		l := make([]any, len(n))
		for i, e := range n {
			l[i] = tree(e)
		}
		return l
	case nil:
		return ""
	case string:
		return n
	default:
		return fmt.Sprint(n)
	}
}
