package actions

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const repoRoot = "../.."

// TestNoExpressionInRunScripts guards against script injection: an
// expression spliced into run: is pasted into the shell script before it
// runs, so a branch name or input can run code. Values go through env:.
func TestNoExpressionInRunScripts(t *testing.T) {
	actions, workflows := Files(t, repoRoot)
	for _, file := range append(actions, workflows...) {
		Walk(Load(t, file), "", func(path string, v any) {
			if s, ok := v.(string); ok && strings.HasSuffix(path, ".run") && strings.Contains(s, "${{") {
				t.Errorf("%s: %s splices an expression into a script; pass it through env:", file, path)
			}
		})
	}
}

var ownUses = regexp.MustCompile(`^` + regexp.QuoteMeta(Repo) + `(/actions/[a-z-]+|/\.github/workflows/[a-z-]+\.yml)?@(.+)$`)

// TestWorkflowsUseRealInputs checks what actionlint cannot see: the with:
// of every step using one of our actions, and of every job calling one of
// our reusable workflows, names inputs that exist and gives the required
// ones. All references use the same ref.
func TestWorkflowsUseRealInputs(t *testing.T) {
	_, workflows := Files(t, repoRoot)
	if len(workflows) == 0 {
		t.Fatal("no workflows found")
	}
	for _, file := range workflows {
		doc := Load(t, file)
		jobs := doc.MapAt("jobs")
		if jobs == nil {
			t.Errorf("%s: no jobs", file)
			continue
		}
		for _, jobName := range jobs.Names() {
			job := jobs.MapAt(jobName)
			uses := []*Map{job}
			for _, s := range job.ListAt("steps") {
				if m, ok := s.(*Map); ok {
					uses = append(uses, m)
				}
			}
			for _, u := range uses {
				checkUses(t, fmt.Sprintf("%s: job %s", file, jobName), u)
			}
		}
	}
}

// checkUses checks one job or step that may use one of our actions or
// reusable workflows.
func checkUses(t *testing.T, where string, u *Map) {
	t.Helper()
	ref, _ := u.Get("uses").(string)
	m := ownUses.FindStringSubmatch(ref)
	if m == nil {
		return
	}
	where += ": " + ref
	if m[2] != MajorRef {
		t.Errorf("%s: want @%s like every other reference", where, MajorRef)
	}
	var declared *Map
	if strings.HasPrefix(m[1], "/.github/") {
		called := Load(t, filepath.Join(repoRoot, m[1]))
		declared = called.MapAt("on", "workflow_call", "inputs")
		checkSecrets(t, where, u.Get("secrets"), called.MapAt("on", "workflow_call", "secrets"))
	} else {
		declared = Load(t, filepath.Join(repoRoot, m[1], "action.yml")).MapAt("inputs")
	}
	with := u.MapAt("with")
	for _, k := range with.Names() {
		if declared.MapAt(k) == nil {
			t.Errorf("%s: with %s: no such input", where, k)
		}
	}
	for _, k := range declared.Names() {
		if declared.MapAt(k).Get("required") == "true" && with.Get(k) == nil {
			t.Errorf("%s: required input %s not given", where, k)
		}
	}
}

func checkSecrets(t *testing.T, where string, given any, declared *Map) {
	t.Helper()
	switch g := given.(type) {
	case nil:
	case string:
		if g != "inherit" {
			t.Errorf("%s: secrets: %q", where, g)
		}
	case *Map:
		for _, k := range g.Names() {
			if declared.MapAt(k) == nil {
				t.Errorf("%s: secret %s is not declared by the called workflow", where, k)
			}
		}
	}
}
