package main

// The GitHub Actions around the CLI: every action.yml input is a flag of the
// command it runs (so the two cannot drift), workflows call the actions and
// the reusable workflows with inputs that exist, no ${{ }} reaches a shell,
// and docs/actions.md is generated from the action.yml files. The script
// that gets the binary, actions/_lib/get-binary.sh, is tested in
// test/getbinary.
//
// go.mod has no YAML module, so yamlParse below reads the block-style subset
// these files are written in and fails loudly on anything else.

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/org/next-deploy/internal/golden"
)

const (
	repoRoot = "../.."
	// actionRepo and majorRef are how users reference the actions.
	actionRepo = "org/next-deploy"
	majorRef   = "v1"
)

// stepActions are the one-step actions under actions/, in pipeline order.
var stepActions = []string{
	"build-standalone", "postbuild-copy-static", "pack", "deliver",
	"barrier-wait", "activate", "prune", "rollback",
}

// notInputs are flags no action exposes: results go to GITHUB_OUTPUT and
// the job summary in Actions, so --json would only clutter the log.
var notInputs = map[string]string{"json": "Actions read GITHUB_OUTPUT, not --json"}

// rootSkips are the flags the all-in-one action (action.yml) does not pass
// to a step, and why. A flag missing from the action and from this list
// fails the test, so a new flag is a decision, not an accident.
var rootSkips = map[string]map[string]string{
	"deliver": notInputs,
	"barrier-wait": {
		"json":         notInputs["json"],
		"mode":         "hosts mode only: in jobs mode the barrier would wait for this very step",
		"jobs":         "jobs mode only",
		"expect":       "jobs mode only",
		"step":         "jobs mode only",
		"github-token": "jobs mode only",
	},
	"activate": notInputs,
	"prune": {
		"json":    notInputs["json"],
		"dry-run": "the all-in-one action really deploys; use actions/prune to preview",
	},
}

// flagSet is the flag set of one next-deploy command, as the CLI builds it.
func cmdFlagSet(t *testing.T, name string) *flag.FlagSet {
	t.Helper()
	for _, c := range newApp().Commands {
		if c.Name() == name {
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			c.SetFlags(fs)
			return fs
		}
	}
	return nil
}

func zeroDefault(v string) bool { return v == "" || v == "0" || v == "false" || v == "0s" }

var (
	execLine  = regexp.MustCompile(`(?m)^\s*exec "\$bin" ([a-z-]+)\s*$`)
	inputRef  = regexp.MustCompile(`^\$\{\{ inputs\.([a-z0-9-]+) \}\}$`)
	outputRef = regexp.MustCompile(`^\$\{\{ steps\.([a-z0-9_-]+)\.outputs\.([a-z0-9-]+) \}\}$`)
)

// actionEnv is the environment the actions give the program besides INPUT_*.
var actionEnv = map[string]string{
	"NEXT_DEPLOY_ACTION_REF":        "${{ github.action_ref }}",
	"NEXT_DEPLOY_ACTION_REPOSITORY": "${{ github.action_repository }}",
}

type actionCheck struct {
	file string
	doc  *ymap
	// passed[step command][flag] = the input (or step output) handed to it
	passed map[string]map[string]string
}

// checkAction checks one action.yml: descriptions, every INPUT_* variable
// names a flag of the command its step runs, required and default agree
// with the flag, every input is used, outputs come from steps.
func checkAction(t *testing.T, file string) *actionCheck {
	t.Helper()
	doc := loadYAML(t, file)
	ac := &actionCheck{file: file, doc: doc, passed: map[string]map[string]string{}}
	if s, _ := doc.get("name").(string); s == "" {
		t.Errorf("%s: no name", file)
	}
	if s, _ := doc.get("description").(string); s == "" {
		t.Errorf("%s: no description", file)
	}
	if u := doc.path("runs", "using"); u != "composite" {
		t.Errorf("%s: runs.using is %v, want composite (runners may have no Docker)", file, u)
	}
	inputs := doc.mapAt("inputs")
	for _, name := range inputs.names() {
		in := inputs.mapAt(name)
		if s, _ := in.get("description").(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s: input %s has no description", file, name)
		}
		if d, ok := in.get("default").(string); ok && !strings.HasPrefix(d, "${{") {
			t.Errorf("%s: input %s has default %q: the CLI's flag default applies; say it in the description instead", file, name, d)
		}
	}
	used := map[string]bool{}
	stepIDs := map[string]bool{}
	for i, s := range doc.listAt("runs", "steps") {
		step, _ := s.(*ymap)
		id, _ := step.get("id").(string)
		where := fmt.Sprintf("%s: step %d (%s)", file, i+1, id)
		run, _ := step.get("run").(string)
		m := execLine.FindStringSubmatch(run)
		if m == nil || !strings.Contains(run, "_lib/get-binary.sh") {
			t.Errorf("%s: run does not get the binary with _lib/get-binary.sh and exec \"$bin\" <command>:\n%s", where, run)
			continue
		}
		cmd := m[1]
		fs := cmdFlagSet(t, cmd)
		if fs == nil {
			t.Errorf("%s: next-deploy has no command %q", where, cmd)
			continue
		}
		if ac.passed[cmd] == nil {
			ac.passed[cmd] = map[string]string{}
		}
		env := step.mapAt("env")
		for _, k := range env.names() {
			v, _ := env.get(k).(string)
			if want, ok := actionEnv[k]; ok {
				if v != want {
					t.Errorf("%s: env %s is %q, want %q", where, k, v, want)
				}
				continue
			}
			flagName, ok := strings.CutPrefix(k, "INPUT_")
			if !ok {
				t.Errorf("%s: env %s: the program gets only INPUT_* and %v", where, k, slices.Sorted(keysOf(actionEnv)))
				continue
			}
			flagName = strings.ReplaceAll(strings.ToLower(flagName), "_", "-")
			f := fs.Lookup(flagName)
			if f == nil {
				t.Errorf("%s: env %s: next-deploy %s has no flag --%s", where, k, cmd, flagName)
				continue
			}
			if _, skip := notInputs[flagName]; skip {
				t.Errorf("%s: env %s: --%s is not for actions (%s)", where, k, flagName, notInputs[flagName])
			}
			switch {
			case inputRef.MatchString(v):
				name := inputRef.FindStringSubmatch(v)[1]
				ac.passed[cmd][flagName] = name
				used[name] = true
				in := inputs.mapAt(name)
				if in == nil {
					t.Errorf("%s: env %s: no input %s", where, k, name)
					continue
				}
				checkInputAgainstFlag(t, file, name, in, cmd, f)
			case outputRef.MatchString(v):
				from := outputRef.FindStringSubmatch(v)[1]
				if !stepIDs[from] {
					t.Errorf("%s: env %s: %s is not an earlier step", where, k, from)
				}
				ac.passed[cmd][flagName] = v
			default:
				t.Errorf("%s: env %s is %q: want ${{ inputs.<name> }} or ${{ steps.<id>.outputs.<name> }}", where, k, v)
			}
		}
		if id != "" {
			stepIDs[id] = true
		}
	}
	for _, name := range inputs.names() {
		if !used[name] {
			t.Errorf("%s: input %s is handed to no step", file, name)
		}
	}
	outputs := doc.mapAt("outputs")
	for _, name := range outputs.names() {
		o := outputs.mapAt(name)
		if s, _ := o.get("description").(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s: output %s has no description", file, name)
		}
		v, _ := o.get("value").(string)
		m := outputRef.FindStringSubmatch(v)
		switch {
		case m == nil:
			t.Errorf("%s: output %s: value %q is not ${{ steps.<id>.outputs.<name> }}", file, name, v)
		case !stepIDs[m[1]]:
			t.Errorf("%s: output %s: no step %s", file, name, m[1])
		case !setsOutput(t, m[2]):
			t.Errorf("%s: output %s: no command writes an output named %q", file, name, m[2])
		}
	}
	return ac
}

func checkInputAgainstFlag(t *testing.T, file, name string, in *ymap, cmd string, f *flag.Flag) {
	t.Helper()
	required := in.get("required") == "true"
	if want := strings.Contains(f.Usage, "(required)"); required != want {
		t.Errorf("%s: input %s: required is %v, but --%s of %s is required: %v", file, name, required, f.Name, cmd, want)
	}
	desc, _ := in.get("description").(string)
	if !zeroDefault(f.DefValue) && !strings.Contains(desc, "Default: `"+f.DefValue+"`.") {
		t.Errorf("%s: input %s: description must say \"Default: `%s`.\" (the default of --%s of %s)", file, name, f.DefValue, f.Name, cmd)
	}
}

var (
	goSourceOnce sync.Once
	goSource     string
)

// setsOutput reports whether the CLI's source names an output: a string
// literal on a SetOutput line or just above one (the barrier loops over its
// output names).
func setsOutput(t *testing.T, name string) bool {
	goSourceOnce.Do(func() {
		files, _ := filepath.Glob("*.go")
		var b strings.Builder
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		goSource = b.String()
	})
	lines := strings.Split(goSource, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "SetOutput(") {
			continue
		}
		for _, above := range lines[max(0, i-4) : i+1] {
			if strings.Contains(above, `"`+name+`"`) {
				return true
			}
		}
	}
	return false
}

func keysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestStepActionsMatchCLIFlags(t *testing.T) {
	for _, step := range stepActions {
		t.Run(step, func(t *testing.T) {
			file := filepath.Join(repoRoot, "actions", step, "action.yml")
			ac := checkAction(t, file)
			if len(ac.passed) != 1 || ac.passed[step] == nil {
				t.Fatalf("%s: want one step running next-deploy %s, got %v", file, step, slices.Sorted(keysOf(ac.passed)))
			}
			inputs := ac.doc.mapAt("inputs")
			cmdFlagSet(t, step).VisitAll(func(f *flag.Flag) {
				if _, skip := notInputs[f.Name]; skip {
					return
				}
				if inputs.mapAt(f.Name) == nil {
					t.Errorf("%s: no input %s for --%s (%s)", file, f.Name, f.Name, f.Usage)
				}
				if got := ac.passed[step][f.Name]; got != f.Name {
					t.Errorf("%s: --%s is fed from %q, want input %s", file, f.Name, got, f.Name)
				}
			})
		})
	}
}

func TestRootActionMatchesCLIFlags(t *testing.T) {
	file := filepath.Join(repoRoot, "action.yml")
	ac := checkAction(t, file)
	var order []string
	for _, s := range ac.doc.listAt("runs", "steps") {
		run, _ := s.(*ymap).get("run").(string)
		if m := execLine.FindStringSubmatch(run); m != nil {
			order = append(order, m[1])
		}
	}
	if want := []string{"deliver", "barrier-wait", "activate", "prune"}; !slices.Equal(order, want) {
		t.Errorf("%s runs %v, want %v", file, order, want)
	}
	for cmd, skips := range rootSkips {
		fs := cmdFlagSet(t, cmd)
		if fs == nil {
			t.Errorf("rootSkips: no command %s", cmd)
			continue
		}
		fs.VisitAll(func(f *flag.Flag) {
			_, passed := ac.passed[cmd][f.Name]
			why, skipped := skips[f.Name]
			switch {
			case passed && skipped:
				t.Errorf("%s: --%s of %s is passed but rootSkips says %q", file, f.Name, cmd, why)
			case !passed && !skipped:
				t.Errorf("%s: --%s of %s (%s) is neither passed nor listed in rootSkips with a reason", file, f.Name, cmd, f.Usage)
			}
		})
		for name := range skips {
			if fs.Lookup(name) == nil {
				t.Errorf("rootSkips: %s has no flag --%s any more", cmd, name)
			}
		}
	}
}

// yamlFiles are every action and workflow file of the repository.
func yamlFiles(t *testing.T) (actions, workflows []string) {
	t.Helper()
	actions = []string{filepath.Join(repoRoot, "action.yml")}
	for _, s := range stepActions {
		actions = append(actions, filepath.Join(repoRoot, "actions", s, "action.yml"))
	}
	for _, dir := range []string{".github/workflows", "examples"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
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

// TestNoExpressionInRunScripts guards against script injection: an
// expression spliced into run: is pasted into the shell script before it
// runs, so a branch name or input can run code. Values go through env:.
func TestNoExpressionInRunScripts(t *testing.T) {
	actions, workflows := yamlFiles(t)
	for _, file := range append(actions, workflows...) {
		walkYAML(loadYAML(t, file), "", func(path string, v any) {
			if s, ok := v.(string); ok && strings.HasSuffix(path, ".run") && strings.Contains(s, "${{") {
				t.Errorf("%s: %s splices an expression into a script; pass it through env:", file, path)
			}
		})
	}
}

var ownUses = regexp.MustCompile(`^` + regexp.QuoteMeta(actionRepo) + `(/actions/[a-z-]+|/\.github/workflows/[a-z-]+\.yml)?@(.+)$`)

// TestWorkflowsUseRealInputs checks what actionlint cannot see: the with:
// of every step using one of our actions, and of every job calling one of
// our reusable workflows, names inputs that exist and gives the required
// ones. All references use the same ref.
func TestWorkflowsUseRealInputs(t *testing.T) {
	_, workflows := yamlFiles(t)
	if len(workflows) == 0 {
		t.Fatal("no workflows found")
	}
	for _, file := range workflows {
		doc := loadYAML(t, file)
		jobs := doc.mapAt("jobs")
		if jobs == nil {
			t.Errorf("%s: no jobs", file)
			continue
		}
		for _, jobName := range jobs.names() {
			job := jobs.mapAt(jobName)
			uses := []*ymap{job}
			for _, s := range job.listAt("steps") {
				if m, ok := s.(*ymap); ok {
					uses = append(uses, m)
				}
			}
			for _, u := range uses {
				ref, _ := u.get("uses").(string)
				m := ownUses.FindStringSubmatch(ref)
				if m == nil {
					continue
				}
				where := fmt.Sprintf("%s: job %s: %s", file, jobName, ref)
				if m[2] != majorRef {
					t.Errorf("%s: want @%s like every other reference", where, majorRef)
				}
				var declared *ymap
				if strings.HasPrefix(m[1], "/.github/") {
					called := loadYAML(t, filepath.Join(repoRoot, m[1]))
					declared = called.mapAt("on", "workflow_call", "inputs")
					checkSecrets(t, where, u.get("secrets"), called.mapAt("on", "workflow_call", "secrets"))
				} else {
					declared = loadYAML(t, filepath.Join(repoRoot, m[1], "action.yml")).mapAt("inputs")
				}
				with := u.mapAt("with")
				for _, k := range with.names() {
					if declared.mapAt(k) == nil {
						t.Errorf("%s: with %s: no such input", where, k)
					}
				}
				for _, k := range declared.names() {
					if declared.mapAt(k).get("required") == "true" && with.get(k) == nil {
						t.Errorf("%s: required input %s not given", where, k)
					}
				}
			}
		}
	}
}

func checkSecrets(t *testing.T, where string, given any, declared *ymap) {
	t.Helper()
	switch g := given.(type) {
	case nil:
	case string:
		if g != "inherit" {
			t.Errorf("%s: secrets: %q", where, g)
		}
	case *ymap:
		for _, k := range g.names() {
			if declared.mapAt(k) == nil {
				t.Errorf("%s: secret %s is not declared by the called workflow", where, k)
			}
		}
	}
}

const (
	docBegin = "<!-- BEGIN action reference: generated from the action.yml files by\n     go test ./cmd/next-deploy -run TestActionsDoc -update -->\n"
	docEnd   = "<!-- END action reference -->\n"
)

// TestActionsDoc keeps the action reference in docs/actions.md (and in
// README.md, if it holds the same markers) equal to what the action.yml
// files say; go test ./cmd/next-deploy -run TestActionsDoc -update
// rewrites the text between the markers.
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
		t.Errorf("the action reference in %s is out of date with the action.yml files; run go test ./cmd/next-deploy -run TestActionsDoc -update", file)
	}
}

func renderActionsDoc(t *testing.T) []byte {
	var b bytes.Buffer
	b.WriteString("\nEvery input is the flag of the same name of the `next-deploy` command the\naction runs (`next-deploy <command> --help`); an empty input leaves the\nflag's default. Secret inputs (`ssh-key`, `ssh-passphrase`, `github-token`)\nare masked in the log.\n")
	section := func(ref, file string) {
		doc := loadYAML(t, file)
		fmt.Fprintf(&b, "\n### `%s`\n\n%s\n\n", ref, mdCell(doc.get("description")))
		b.WriteString("| input | required | description |\n| --- | --- | --- |\n")
		inputs := doc.mapAt("inputs")
		for _, name := range inputs.names() {
			in := inputs.mapAt(name)
			req := ""
			if in.get("required") == "true" {
				req = "yes"
			}
			desc := mdCell(in.get("description"))
			if d, ok := in.get("default").(string); ok {
				desc += " Default: `" + d + "`."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, req, desc)
		}
		if outputs := doc.mapAt("outputs"); outputs != nil && len(outputs.names()) > 0 {
			b.WriteString("\n| output | description |\n| --- | --- |\n")
			for _, name := range outputs.names() {
				fmt.Fprintf(&b, "| `%s` | %s |\n", name, mdCell(outputs.mapAt(name).get("description")))
			}
		}
	}
	section(actionRepo+"@"+majorRef, filepath.Join(repoRoot, "action.yml"))
	for _, s := range stepActions {
		section(actionRepo+"/actions/"+s+"@"+majorRef, filepath.Join(repoRoot, "actions", s, "action.yml"))
	}
	b.WriteString("\n")
	return b.Bytes()
}

func mdCell(v any) string {
	s, _ := v.(string)
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// ---- a reader for the block-style YAML of action and workflow files ----

// ymap is a YAML mapping that keeps its keys in order.
type ymap struct {
	keys []string
	vals map[string]any
}

// names are the keys in order; none for a missing mapping.
func (m *ymap) names() []string {
	if m == nil {
		return nil
	}
	return m.keys
}

func (m *ymap) get(k string) any {
	if m == nil {
		return nil
	}
	return m.vals[k]
}

func (m *ymap) path(keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(*ymap)
		if !ok {
			return nil
		}
		v = mm.get(k)
	}
	return v
}

func (m *ymap) mapAt(keys ...string) *ymap {
	mm, _ := m.path(keys...).(*ymap)
	return mm
}

func (m *ymap) listAt(keys ...string) []any {
	l, _ := m.path(keys...).([]any)
	return l
}

func walkYAML(v any, path string, fn func(path string, v any)) {
	fn(path, v)
	switch n := v.(type) {
	case *ymap:
		for _, k := range n.keys {
			walkYAML(n.vals[k], path+"."+k, fn)
		}
	case []any:
		for i, e := range n {
			walkYAML(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

func loadYAML(t *testing.T, file string) *ymap {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	v, err := yamlParse(string(data))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	m, ok := v.(*ymap)
	if !ok {
		t.Fatalf("%s: not a mapping", file)
	}
	return m
}

type yline struct {
	n      int // 1-based line number
	indent int
	text   string
	block  *string // the content of a block scalar (| or >) this line opens
}

var blockIndicator = regexp.MustCompile(`(^|: |^- )([|>][-+]?)$`)

func yamlParse(src string) (any, error) {
	raw := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var lines []yline
	for i := 0; i < len(raw); i++ {
		l := raw[i]
		text := strings.TrimLeft(l, " ")
		if text == "" || text[0] == '#' || text == "---" {
			continue
		}
		if text[0] == '\t' {
			return nil, fmt.Errorf("line %d: tab indentation", i+1)
		}
		indent := len(l) - len(text)
		text = strings.TrimRight(text, " ")
		yl := yline{n: i + 1, indent: indent, text: text}
		if m := blockIndicator.FindStringSubmatch(text); m != nil {
			var body []string
			inner := -1
			for i+1 < len(raw) {
				next := raw[i+1]
				nt := strings.TrimLeft(next, " ")
				ni := len(next) - len(nt)
				if nt != "" && ni <= indent {
					break
				}
				i++
				if nt == "" {
					body = append(body, "")
					continue
				}
				if inner < 0 {
					inner = ni
				}
				body = append(body, next[min(inner, ni):])
			}
			for len(body) > 0 && body[len(body)-1] == "" {
				body = body[:len(body)-1]
			}
			sep := "\n"
			if m[2][0] == '>' {
				sep = " "
			}
			s := strings.Join(body, sep)
			if !strings.HasSuffix(m[2], "-") && s != "" {
				s += "\n"
			}
			yl.block = &s
			yl.text = strings.TrimSuffix(text, m[2])
			yl.text = strings.TrimRight(yl.text, " ")
			if yl.text == "" || yl.text == "-" {
				yl.text += " " // a bare item or a document scalar
			}
		}
		lines = append(lines, yl)
	}
	p := &yparser{lines: lines}
	if len(lines) == 0 {
		return &ymap{vals: map[string]any{}}, nil
	}
	v, err := p.node(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected %q", p.lines[p.pos].n, p.lines[p.pos].text)
	}
	return v, nil
}

type yparser struct {
	lines []yline
	pos   int
}

func yamlIsItem(text string) bool {
	return text == "-" || text == "- " || strings.HasPrefix(text, "- ")
}

var plainKey = regexp.MustCompile(`^([A-Za-z0-9_][A-Za-z0-9_.-]*|"[^"]*"|'[^']*'):( |$)`)

func yamlSplitKey(text string) (key, rest string, ok bool) {
	m := plainKey.FindStringSubmatch(text)
	if m == nil {
		return "", "", false
	}
	key = m[1]
	if key[0] == '"' || key[0] == '\'' {
		key = key[1 : len(key)-1]
	}
	return key, strings.TrimSpace(text[len(m[0]):]), true
}

func (p *yparser) node(indent int) (any, error) {
	if yamlIsItem(p.lines[p.pos].text) {
		return p.list(indent)
	}
	return p.mapping(indent)
}

func (p *yparser) mapping(indent int) (*ymap, error) {
	m := &ymap{vals: map[string]any{}}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent && !yamlIsItem(p.lines[p.pos].text) {
		l := p.lines[p.pos]
		key, rest, ok := yamlSplitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: want key: value, got %q", l.n, l.text)
		}
		if _, dup := m.vals[key]; dup {
			return nil, fmt.Errorf("line %d: key %s twice", l.n, key)
		}
		p.pos++
		var v any
		var err error
		switch {
		case l.block != nil:
			v = *l.block
		case rest == "" || rest[0] == '#':
			v = ""
			if p.pos < len(p.lines) {
				next := p.lines[p.pos]
				if next.indent > indent || (next.indent == indent && yamlIsItem(next.text)) {
					v, err = p.node(next.indent)
				}
			}
		default:
			v, err = flowOrScalar(rest, l.n)
		}
		if err != nil {
			return nil, err
		}
		m.keys = append(m.keys, key)
		m.vals[key] = v
	}
	if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.pos].n)
	}
	return m, nil
}

func (p *yparser) list(indent int) ([]any, error) {
	var l []any
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent && yamlIsItem(p.lines[p.pos].text) {
		line := p.lines[p.pos]
		content := strings.TrimLeft(line.text[1:], " ")
		off := len(line.text) - len(content)
		switch {
		case line.block != nil && strings.TrimSpace(content) == "":
			l = append(l, *line.block)
			p.pos++
		case content == "":
			p.pos++
			var v any = ""
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				var err error
				if v, err = p.node(p.lines[p.pos].indent); err != nil {
					return nil, err
				}
			}
			l = append(l, v)
		default:
			if _, _, ok := yamlSplitKey(content); ok {
				// "- key: value" opens a mapping whose keys line up with key.
				p.lines[p.pos] = yline{n: line.n, indent: indent + off, text: content, block: line.block}
				m, err := p.mapping(indent + off)
				if err != nil {
					return nil, err
				}
				l = append(l, m)
				continue
			}
			v, err := flowOrScalar(content, line.n)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			p.pos++
		}
	}
	return l, nil
}

func flowOrScalar(s string, n int) (any, error) {
	switch {
	case s == "{}":
		return &ymap{vals: map[string]any{}}, nil
	case strings.HasPrefix(s, "{"):
		return nil, fmt.Errorf("line %d: flow mappings are not supported: %s", n, s)
	case strings.HasPrefix(s, "["):
		end := strings.LastIndex(s, "]")
		if end < 0 {
			return nil, fmt.Errorf("line %d: unclosed [", n)
		}
		var l []any
		for item := range strings.SplitSeq(s[1:end], ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			v, err := yamlScalar(item, n)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	return yamlScalar(s, n)
}

func yamlScalar(s string, n int) (string, error) {
	switch s[0] {
	case '"':
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				v, err := strconv.Unquote(s[:i+1])
				if err != nil {
					return "", fmt.Errorf("line %d: %v: %s", n, err, s)
				}
				return v, nil
			}
		}
		return "", fmt.Errorf("line %d: unclosed \": %s", n, s)
	case '\'':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				return b.String(), nil
			}
			b.WriteByte(s[i])
		}
		return "", fmt.Errorf("line %d: unclosed ': %s", n, s)
	case '&', '*', '!', '@', '`':
		return "", fmt.Errorf("line %d: anchors, aliases and tags are not supported: %s", n, s)
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s), nil
}

// TestYAMLSubset pins the reader on the constructs the files use, and on
// refusing what it does not understand instead of misreading it.
func TestYAMLSubset(t *testing.T) {
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
empty:
`
	v, err := yamlParse(doc)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(*ymap)
	steps := m.listAt("jobs", "a", "steps")
	for _, c := range []struct{ got, want any }{
		{m.get("name"), `quoted: "x"`},
		{fmt.Sprint(m.path("on", "push", "branches")), "[develop staging]"},
		{len(steps), 3},
		{steps[0].(*ymap).get("run"), "echo \"a: b\"\n\n# not a comment\n"},
		{steps[0].(*ymap).path("env", "X"), "${{ inputs.x }}"},
		{steps[1].(*ymap).get("uses"), "org/x@v1"},
		{steps[2].(*ymap).get("plain"), "it's fine"},
		{m.get("empty"), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %#v, want %#v", c.got, c.want)
		}
	}
	for _, bad := range []string{"a: {b: c}\n", "a: &x 1\n", "a:\n  b: 1\n    c: 2\n", "a: 1\na: 2\n", "just text\n"} {
		if _, err := yamlParse(bad); err == nil {
			t.Errorf("yamlParse(%q) = nil error, want a refusal", bad)
		}
	}
}
