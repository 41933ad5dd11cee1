package main

import (
	"flag"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/test/actions"
)

var (
	execLine  = regexp.MustCompile(`(?m)^\s*exec "\$bin" ([a-z-]+)\s*$`)
	inputRef  = regexp.MustCompile(`^\$\{\{ inputs\.([a-z0-9-]+) \}\}$`)
	outputRef = regexp.MustCompile(`^\$\{\{ steps\.([a-z0-9_-]+)\.outputs\.([a-z0-9-]+) \}\}$`)
)

type actionCheck struct {
	file   string
	doc    *actions.Map
	inputs *actions.Map
	// passed[step command][flag] = the input (or step output) handed to it
	passed map[string]map[string]string
	// used are the inputs handed to a step, stepIDs the ids of the steps
	// checked so far.
	used, stepIDs map[string]bool
}

// checkAction checks one action.yml: descriptions, every INPUT_* variable
// names a flag of the command its step runs, required and default agree
// with the flag, every input is used, outputs come from steps.
func checkAction(t *testing.T, file string) *actionCheck {
	t.Helper()
	doc := actions.Load(t, file)
	ac := &actionCheck{file: file, doc: doc, inputs: doc.MapAt("inputs"), passed: map[string]map[string]string{},
		used: map[string]bool{}, stepIDs: map[string]bool{}}
	if s, _ := doc.Get("name").(string); s == "" {
		t.Errorf("%s: no name", file)
	}
	if s, _ := doc.Get("description").(string); s == "" {
		t.Errorf("%s: no description", file)
	}
	if u := doc.Path("runs", "using"); u != "composite" {
		t.Errorf("%s: runs.using is %v, want composite (runners may have no Docker)", file, u)
	}
	for _, name := range ac.inputs.Names() {
		in := ac.inputs.MapAt(name)
		if s, _ := in.Get("description").(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s: input %s has no description", file, name)
		}
		if d, ok := in.Get("default").(string); ok && !strings.HasPrefix(d, "${{") {
			t.Errorf("%s: input %s has default %q: the CLI's flag default applies; say it in the description instead", file, name, d)
		}
	}
	for i, s := range doc.ListAt("runs", "steps") {
		step, _ := s.(*actions.Map)
		ac.checkStep(t, i, step)
	}
	for _, name := range ac.inputs.Names() {
		if !ac.used[name] {
			t.Errorf("%s: input %s is handed to no step", file, name)
		}
	}
	ac.checkOutputs(t)
	return ac
}

// checkStep checks the env of one step against the flags of the command
// it runs.
func (ac *actionCheck) checkStep(t *testing.T, i int, step *actions.Map) {
	t.Helper()
	id, _ := step.Get("id").(string)
	where := fmt.Sprintf("%s: step %d (%s)", ac.file, i+1, id)
	run, _ := step.Get("run").(string)
	m := execLine.FindStringSubmatch(run)
	if m == nil || !strings.Contains(run, "_lib/get-binary.sh") {
		t.Errorf("%s: run does not get the binary with _lib/get-binary.sh and exec \"$bin\" <command>:\n%s", where, run)
		return
	}
	cmd := m[1]
	fs := cmdFlagSet(t, cmd)
	if fs == nil {
		t.Errorf("%s: next-deploy has no command %q", where, cmd)
		return
	}
	if ac.passed[cmd] == nil {
		ac.passed[cmd] = map[string]string{}
	}
	env := step.MapAt("env")
	for _, k := range env.Names() {
		v, _ := env.Get(k).(string)
		ac.checkEnv(t, where, cmd, fs, k, v)
	}
	if id != "" {
		ac.stepIDs[id] = true
	}
}

// checkEnv checks one env variable k=v of a step running cmd.
func (ac *actionCheck) checkEnv(t *testing.T, where, cmd string, fs *flag.FlagSet, k, v string) {
	t.Helper()
	if want, ok := actionEnv[k]; ok {
		if v != want {
			t.Errorf("%s: env %s is %q, want %q", where, k, v, want)
		}
		return
	}
	flagName, ok := strings.CutPrefix(k, "INPUT_")
	if !ok {
		t.Errorf("%s: env %s: the program gets only INPUT_* and %v", where, k, slices.Sorted(maps.Keys(actionEnv)))
		return
	}
	flagName = strings.ReplaceAll(strings.ToLower(flagName), "_", "-")
	f := fs.Lookup(flagName)
	if f == nil {
		t.Errorf("%s: env %s: next-deploy %s has no flag --%s", where, k, cmd, flagName)
		return
	}
	if _, skip := notInputs[flagName]; skip {
		t.Errorf("%s: env %s: --%s is not for actions (%s)", where, k, flagName, notInputs[flagName])
	}
	switch {
	case inputRef.MatchString(v):
		name := inputRef.FindStringSubmatch(v)[1]
		ac.passed[cmd][flagName] = name
		ac.used[name] = true
		in := ac.inputs.MapAt(name)
		if in == nil {
			t.Errorf("%s: env %s: no input %s", where, k, name)
			return
		}
		checkInputAgainstFlag(t, ac.file, name, in, cmd, f)
	case outputRef.MatchString(v):
		from := outputRef.FindStringSubmatch(v)[1]
		if !ac.stepIDs[from] {
			t.Errorf("%s: env %s: %s is not an earlier step", where, k, from)
		}
		ac.passed[cmd][flagName] = v
	default:
		t.Errorf("%s: env %s is %q: want ${{ inputs.<name> }} or ${{ steps.<id>.outputs.<name> }}", where, k, v)
	}
}

func (ac *actionCheck) checkOutputs(t *testing.T) {
	t.Helper()
	outputs := ac.doc.MapAt("outputs")
	for _, name := range outputs.Names() {
		o := outputs.MapAt(name)
		if s, _ := o.Get("description").(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s: output %s has no description", ac.file, name)
		}
		v, _ := o.Get("value").(string)
		m := outputRef.FindStringSubmatch(v)
		switch {
		case m == nil:
			t.Errorf("%s: output %s: value %q is not ${{ steps.<id>.outputs.<name> }}", ac.file, name, v)
		case !ac.stepIDs[m[1]]:
			t.Errorf("%s: output %s: no step %s", ac.file, name, m[1])
		case !setsOutput(t, m[2]):
			t.Errorf("%s: output %s: no command writes an output named %q", ac.file, name, m[2])
		}
	}
}

func checkInputAgainstFlag(t *testing.T, file, name string, in *actions.Map, cmd string, f *flag.Flag) {
	t.Helper()
	required := in.Get("required") == "true"
	if want := strings.Contains(f.Usage, "(required)"); required != want {
		t.Errorf("%s: input %s: required is %v, but --%s of %s is required: %v", file, name, required, f.Name, cmd, want)
	}
	desc, _ := in.Get("description").(string)
	if !zeroDefault(f.DefValue) && !strings.Contains(desc, "Default: `"+f.DefValue+"`.") {
		t.Errorf("%s: input %s: description must say \"Default: `%s`.\" (the default of --%s of %s)", file, name, f.DefValue, f.Name, cmd)
	}
}

func zeroDefault(v string) bool { return v == "" || v == "0" || v == "false" || v == "0s" }
