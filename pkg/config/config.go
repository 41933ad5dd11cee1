// Package config owns next-deploy.yml, the file at an app's root that
// holds its deploy settings: shared ones at the top and per environment
// (develop, staging, production, any name) under environments:, each
// overriding the shared ones key by key. It decodes the file strictly
// (github.com/goccy/go-yaml: an unknown key, a value of the wrong kind, a
// bad host or path, a secret are errors naming file:line:column), and
// resolves one environment into the values of the flags it sets, the
// hosts with their overrides, the hooks and the shared files. It knows no
// command: which command uses which value is the Face's business.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// FileName is the file's name at the app's root.
const FileName = "next-deploy.yml"

// Error is a problem at a place in the file: "next-deploy.yml:12:10: ...".
type Error struct {
	File string
	Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// File is a parsed, checked next-deploy.yml.
type File struct {
	// Name is the file as given, for messages ("next-deploy.yml").
	Name string
	// Shared are the settings at the top.
	Shared Settings
	// Environments in the order of the file.
	Environments []Environment
	// envsPos is where environments: is (1:1 without one).
	envsPos Pos
}

// Environment is one block under environments:.
type Environment struct {
	Name     string
	Pos      Pos
	Settings Settings
}

// document is the file's shape for the decoder.
type document struct {
	Settings     `yaml:",inline"`
	Environments map[string]*Settings `yaml:"environments"`
}

// Load reads and parses the file at name.
func Load(name string) (*File, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(name, data)
}

// envNameRe is an environment's name: it may become a pm2 env block name
// and a directory name, so the release id rule.
var envNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Parse decodes and checks data, the content of the file name. Every
// problem is an *Error; all of them are reported at once, except that
// decoding stops at the first unknown key or misplaced list or mapping.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: name, envsPos: Pos{1, 1}}
	tree, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, f.yamlError(err)
	}
	if len(tree.Docs) > 1 {
		return nil, &Error{File: name, Pos: posOf(tree.Docs[1]), Msg: "one YAML document only (remove the ---)"}
	}
	var doc document
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.Strict()); err != nil {
		return nil, f.yamlError(err)
	}
	f.Shared = doc.Settings
	var errs []error
	for _, e := range environmentKeys(tree) {
		s := doc.Environments[e.Name]
		if s == nil {
			s = &Settings{} // staging: with nothing under it
		}
		e.Settings = *s
		if !envNameRe.MatchString(e.Name) {
			errs = append(errs, f.errorf(e.Pos, "environment %q: want letters, digits, '.', '_', '-', starting with a letter or digit", e.Name))
		}
		f.Environments = append(f.Environments, e)
	}
	if p := topPair(tree, "environments"); p != nil {
		f.envsPos = posOf(p.Key)
	}
	errs = append(errs, f.check(&f.Shared)...)
	for i := range f.Environments {
		errs = append(errs, f.check(&f.Environments[i].Settings)...)
	}
	// In the order of the file, as an editor walks them.
	slices.SortStableFunc(errs, func(a, b error) int {
		var ea, eb *Error
		if !errors.As(a, &ea) || !errors.As(b, &eb) {
			return 0
		}
		return cmp.Or(cmp.Compare(ea.Line, eb.Line), cmp.Compare(ea.Col, eb.Col))
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) errorf(p Pos, format string, a ...any) *Error {
	return &Error{File: f.Name, Pos: p, Msg: fmt.Sprintf(format, a...)}
}

// yamlError turns the YAML library's error into an *Error, in our words
// where they are clearer.
func (f *File) yamlError(err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil || ye.GetToken().Position == nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	p := ye.GetToken().Position
	msg := ye.GetMessage()
	var unknown *yaml.UnknownFieldError
	if errors.As(err, &unknown) {
		key := strings.TrimSuffix(strings.TrimPrefix(msg, `unknown field "`), `"`)
		msg = unknownKey(key)
	}
	return &Error{File: f.Name, Pos: Pos{p.Line, p.Column}, Msg: msg}
}

// unknownKey says what is wrong with a key no setting has.
func unknownKey(key string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if alt := strings.ReplaceAll(strings.ToLower(key), "-", "_"); alt != key && slices.Contains(Keys(), alt) {
		return msg + fmt.Sprintf(" (did you mean %s? keys are the flags' names with '_' for '-')", alt)
	}
	for _, w := range []string{"password", "secret", "token", "passphrase", "private"} {
		if strings.Contains(strings.ToLower(key), w) {
			return msg + ": secrets never go in " + FileName + " (set them in the environment or as Actions secrets)"
		}
	}
	return msg + " (see docs/config.md for the keys)"
}

// environmentKeys are the environments in the order of the file, with
// their places.
func environmentKeys(tree *ast.File) []Environment {
	var out []Environment
	if p := topPair(tree, "environments"); p != nil {
		pairs, _ := mappingPairs(p.Value)
		for _, p := range pairs {
			out = append(out, Environment{Name: keyText(p.Key), Pos: posOf(p.Key)})
		}
	}
	return out
}

// topPair is the key: value pair of key at the top of the document.
func topPair(tree *ast.File, key string) *ast.MappingValueNode {
	if len(tree.Docs) == 0 || tree.Docs[0].Body == nil {
		return nil
	}
	pairs, _ := mappingPairs(tree.Docs[0].Body)
	for _, p := range pairs {
		if keyText(p.Key) == key {
			return p
		}
	}
	return nil
}

// Names lists the environments.
func (f *File) Names() []string {
	names := make([]string, len(f.Environments))
	for i, e := range f.Environments {
		names[i] = e.Name
	}
	return names
}

// Env is the environment called name, or nil.
func (f *File) Env(name string) *Environment {
	for i := range f.Environments {
		if f.Environments[i].Name == name {
			return &f.Environments[i]
		}
	}
	return nil
}

// Dir is the directory of the file: relative local paths in it are
// relative to it.
func (f *File) Dir() string { return filepath.Dir(f.Name) }
