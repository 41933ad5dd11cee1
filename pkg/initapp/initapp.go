// Package initapp owns what `next-deploy init` does to an app's
// repository: it writes next-deploy.yml with the three environments,
// gives next.config the three lines next-deploy needs (editing the file
// only when its shape is one it recognises and the keys are not set to
// something else; else it hands over the exact diff), writes the caller
// workflows from templates embedded in the binary (the same text as
// examples/workflows), and works out the one-time commands each server
// needs. It never overwrites a file that exists: running it again changes
// nothing.
package initapp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/release"
)

// Defaults of Options.
const (
	DefaultRunnerLabel = "next-deploy"
	DefaultPath        = "/app"
	DefaultName        = "web"
	DefaultPort        = 3000
)

// Options is one init.
type Options struct {
	// Dir is the app's directory: package.json and next.config are
	// there, next-deploy.yml goes there. The workflows go to the
	// repository that holds it (the nearest directory above with .git).
	Dir string
	// RunnerLabel is the label of the self-hosted runner the deploy and
	// rollback jobs run on: runs-on [self-hosted, <label>].
	RunnerLabel string
	// Path, Name and Port are the deploy root, the pm2 app and its port
	// written to a new next-deploy.yml.
	Path string
	Name string
	Port int
}

var labelRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Check reports every bad option at once; Init does it too.
func (o Options) Check() error {
	var errs []error
	if !labelRe.MatchString(o.RunnerLabel) {
		errs = append(errs, fmt.Errorf("runner label %q: want letters, digits, '.', '_', '-'", o.RunnerLabel))
	}
	if _, err := release.NewLayout(o.Path); err != nil {
		errs = append(errs, fmt.Errorf("path: %w", err))
	}
	if release.ValidID(o.Name) != nil {
		errs = append(errs, fmt.Errorf("name %q: want letters, digits, '.', '_', '-'", o.Name))
	}
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: want 1 to 65535", o.Port))
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "package.json")); err != nil {
		errs = append(errs, fmt.Errorf("%s is not a Node.js app (no package.json): run init in the app's directory or give --dir", o.Dir))
	}
	return errors.Join(errs...)
}

// Action is what init did to one file.
type Action string

// Actions.
const (
	Created   Action = "created"
	Edited    Action = "edited"
	Unchanged Action = "unchanged"
	// Kept: the file exists and differs from what init writes; it is
	// left alone (Diff shows the difference).
	Kept Action = "kept"
	// ByHand: next.config needs the three lines and init cannot add them
	// safely; Diff is the edit to make, when init can tell it.
	ByHand Action = "by hand"
)

// FileResult is one file init wrote or looked at.
type FileResult struct {
	// Path is relative to the repository's root.
	Path   string `json:"path"`
	Action Action `json:"action"`
	Note   string `json:"note,omitempty"`
	// Why explains a file left to the user (ByHand).
	Why  string `json:"why,omitempty"`
	Diff string `json:"diff,omitempty"`
}

// Result is what init did.
type Result struct {
	// Dir is the app's directory, Root the repository's, both absolute.
	Dir   string       `json:"dir"`
	Root  string       `json:"root"`
	Files []FileResult `json:"files"`
	// Changed is true when init wrote a file.
	Changed bool `json:"changed"`
	// Environments are next-deploy.yml's; Server the commands each server
	// needs once.
	Environments []string      `json:"environments"`
	Server       []ServerSetup `json:"server"`
	// RunnerLabel is the label the workflows init wrote run on.
	RunnerLabel string `json:"runner_label"`
	// Placeholders are the environments whose hosts are still init's
	// examples (*.example.com).
	Placeholders []string `json:"placeholders,omitempty"`
}

// HandEditError is the finding that next.config needs an edit init would
// not make: exit status 3, everything else done.
type HandEditError struct {
	File, Why string
}

func (e *HandEditError) Error() string {
	return fmt.Sprintf("%s needs a hand edit: %s", e.File, e.Why)
}

// Finding marks it as a finding, not a failure (cli.Finder).
func (*HandEditError) Finding() bool { return true }

// Init sets up the app in o.Dir. The error is a *HandEditError when only
// next.config is left to the user; the Result is complete then too.
func Init(o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	res := &Result{Dir: dir, Root: repoRoot(dir), RunnerLabel: o.RunnerLabel}
	appDir, err := filepath.Rel(res.Root, dir)
	if err != nil {
		return nil, err
	}
	data := tmplData{RunnerLabel: o.RunnerLabel, Path: o.Path, Name: o.Name, Port: o.Port}
	if appDir != "." {
		data.AppDirectory = filepath.ToSlash(appDir)
	}
	settings, err := render("next-deploy.yml", data)
	if err != nil {
		return nil, err
	}
	if err := res.write(filepath.Join(dir, config.FileName), settings, false, "fill in the hosts of each environment"); err != nil {
		return nil, err
	}
	hand, err := res.nextConfig(dir)
	if err != nil {
		return nil, err
	}
	for _, w := range Workflows {
		text, err := render(w.Template, data.forEnv(w.Env))
		if err != nil {
			return nil, err
		}
		if err := res.write(filepath.Join(res.Root, ".github", "workflows", w.Name), text, true, ""); err != nil {
			return nil, err
		}
	}
	if err := res.server(filepath.Join(dir, config.FileName)); err != nil {
		return res, err
	}
	if hand != nil {
		return res, hand
	}
	return res, nil
}

// write creates file with content unless it exists: the same content is
// unchanged, another is kept (with the diff from it to init's when diff:
// a next-deploy.yml that differs is one whose hosts are filled in).
func (r *Result) write(file, content string, diff bool, note string) error {
	rel := r.rel(file)
	old, err := os.ReadFile(file)
	switch {
	case err == nil && string(old) == content:
		r.add(FileResult{Path: rel, Action: Unchanged})
		return nil
	case err == nil:
		f := FileResult{Path: rel, Action: Kept, Note: "exists; not overwritten"}
		if diff {
			f.Note = "exists and differs from what init writes (the diff to it below); not overwritten"
			f.Diff = Diff(rel, string(old), content)
		}
		r.add(f)
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read %s: %w", file, err)
	}
	if err := writeFile(file, []byte(content)); err != nil {
		return err
	}
	r.add(FileResult{Path: rel, Action: Created, Note: note})
	return nil
}

func (r *Result) add(f FileResult) {
	r.Files = append(r.Files, f)
	if f.Action == Created || f.Action == Edited {
		r.Changed = true
	}
}

func (r *Result) rel(file string) string {
	if rel, err := filepath.Rel(r.Root, file); err == nil {
		return filepath.ToSlash(rel)
	}
	return file
}

// nextConfig gives the app's next.config the three lines, or says how.
func (r *Result) nextConfig(dir string) (*HandEditError, error) {
	name, err := findConfig(dir)
	if err != nil {
		return &HandEditError{File: "next.config", Why: err.Error()}, nil
	}
	if name == "" {
		name, content := newConfig(dir)
		return nil, r.write(filepath.Join(dir, name), content, true, "with the three lines next-deploy needs")
	}
	file := filepath.Join(dir, name)
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	rel := r.rel(file)
	p := planConfig(string(src))
	switch p.status {
	case configHasLines:
		r.add(FileResult{Path: rel, Action: Unchanged, Note: "has the three lines"})
		return nil, nil
	case configEdited:
		if err := writeFile(file, []byte(p.new)); err != nil {
			return nil, err
		}
		r.add(FileResult{Path: rel, Action: Edited, Note: "added " + strings.Join(p.added, ", "), Diff: Diff(rel, p.old, p.new)})
		return nil, nil
	}
	f := FileResult{Path: rel, Action: ByHand, Note: p.short, Why: p.why}
	if p.new != "" {
		f.Diff = Diff(rel, p.old, p.new)
	} else {
		f.Why += "; add these lines to the object it exports: " + strings.Join(lineTexts(), " ")
	}
	r.add(f)
	return &HandEditError{File: rel, Why: p.why}, nil
}

func lineTexts() []string {
	var out []string
	for _, l := range Lines {
		out = append(out, l.Key+": "+l.Value+",")
	}
	return out
}

// repoRoot is the nearest directory from dir up that holds .git; dir
// itself when there is none.
func repoRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// writeFile writes a new file whole or not at all: a temporary name, then
// a rename.
func writeFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), mode)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
