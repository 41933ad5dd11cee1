package actions

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/golden"
)

const (
	docBegin = "<!-- BEGIN action reference: generated from the action.yml files by\n     go test ./test/actions -run TestActionsDoc -update -->\n"
	docEnd   = "<!-- END action reference -->\n"
)

// TestActionsDoc keeps the action reference in docs/actions.md (and in
// README.md, if it holds the same markers) equal to what the action.yml
// files say; go test ./test/actions -run TestActionsDoc -update rewrites
// the text between the markers.
func TestActionsDoc(t *testing.T) {
	ref := renderActionsDoc(t)
	for _, doc := range []struct {
		file     string
		required bool
	}{{"docs/actions.md", true}, {"README.md", false}} {
		file := filepath.Join(repoRoot, doc.file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		i, j := strings.Index(s, docBegin), strings.Index(s, docEnd)
		if i < 0 || j < i {
			if doc.required {
				t.Errorf("%s lacks the markers of the action reference:\n%s...\n%s", file, docBegin, docEnd)
			}
			continue
		}
		got := s[:i+len(docBegin)] + string(ref) + s[j:]
		if got == s {
			continue
		}
		if golden.Updating() {
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("the action reference in %s is out of date with the action.yml files; run go test ./test/actions -run TestActionsDoc -update", file)
	}
}

func renderActionsDoc(t *testing.T) []byte {
	var b bytes.Buffer
	b.WriteString("\nEvery input is the flag of the same name of the `next-deploy` command the\naction runs (`next-deploy <command> --help`); an empty input leaves the\nflag's default. Secret inputs (`ssh-key`, `ssh-passphrase`, `github-token`)\nare masked in the log.\n")
	section := func(ref, file string) {
		doc := Load(t, file)
		fmt.Fprintf(&b, "\n### `%s`\n\n%s\n\n", ref, mdCell(doc.Get("description")))
		b.WriteString("| input | required | description |\n| --- | --- | --- |\n")
		inputs := doc.MapAt("inputs")
		for _, name := range inputs.Names() {
			in := inputs.MapAt(name)
			req := ""
			if in.Get("required") == "true" {
				req = "yes"
			}
			desc := mdCell(in.Get("description"))
			if d, ok := in.Get("default").(string); ok {
				desc += " Default: `" + d + "`."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, req, desc)
		}
		if outputs := doc.MapAt("outputs"); outputs != nil && len(outputs.Names()) > 0 {
			b.WriteString("\n| output | description |\n| --- | --- |\n")
			for _, name := range outputs.Names() {
				fmt.Fprintf(&b, "| `%s` | %s |\n", name, mdCell(outputs.MapAt(name).Get("description")))
			}
		}
	}
	section(Repo+"@"+MajorRef, filepath.Join(repoRoot, "action.yml"))
	for _, s := range Steps {
		section(Repo+"/actions/"+s+"@"+MajorRef, filepath.Join(repoRoot, "actions", s, "action.yml"))
	}
	b.WriteString("\n")
	return b.Bytes()
}

func mdCell(v any) string {
	s, _ := v.(string)
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
