package actions

import (
	"fmt"
	"testing"
)

// TestParse pins how a file is read: the constructs the action and
// workflow files use, every scalar as its string (the checks compare
// required with "true"), keys in order, and a refusal, not a misreading,
// of a broken file.
func TestParse(t *testing.T) {
	doc := `# comment
name: "quoted: \"x\"" # trailing comment
on:
  push:
    branches: [develop, 'staging']
jobs:
  a:
    steps:
      - id: one
        run: |
          echo "a: b"

          # not a comment
        env:
          X: ${{ inputs.x }}
      - uses: org/x@v1
      -
        plain: it's fine
inputs:
  keep: {required: true, default: 5}
  base: &base {description: shared}
  copy: *base
empty:
`
	m, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	steps := m.ListAt("jobs", "a", "steps")
	for _, c := range []struct{ got, want any }{
		{m.Get("name"), `quoted: "x"`},
		{fmt.Sprint(m.Path("on", "push", "branches")), "[develop staging]"},
		{len(steps), 3},
		{steps[0].(*Map).Get("run"), "echo \"a: b\"\n\n# not a comment\n"},
		{steps[0].(*Map).Path("env", "X"), "${{ inputs.x }}"},
		{steps[1].(*Map).Get("uses"), "org/x@v1"},
		{steps[2].(*Map).Get("plain"), "it's fine"},
		{m.Path("inputs", "keep", "required"), "true"},
		{m.Path("inputs", "keep", "default"), "5"},
		{m.Path("inputs", "copy", "description"), "shared"},
		{fmt.Sprint(m.MapAt("inputs").Names()), "[keep base copy]"},
		{fmt.Sprint(m.Names()), "[name on jobs inputs empty]"},
		{m.Get("empty"), ""},
		{m.Get("missing"), nil},
	} {
		if c.got != c.want {
			t.Errorf("got %#v, want %#v", c.got, c.want)
		}
	}
	for _, bad := range []string{"a:\n  b: 1\n    c: 2\n", "a: 1\na: 2\n", "just text\n", "- a\n", "a: *nowhere\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) = nil error, want a refusal", bad)
		}
	}
}
