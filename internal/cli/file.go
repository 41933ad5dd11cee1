package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/org/next-deploy/pkg/config"
)

// The settings file, next-deploy.yml (pkg/config), is the layer under
// the flags and the inputs: a flag neither given nor fed from an input or
// variable takes the file's value for the chosen environment, if the file
// has one, else keeps its default.

// Flags and variables of the file layer, on every command.
const (
	EnvFlag    = "env"
	ConfigFlag = "config"
	// EnvVar and ConfigVar choose the environment and the file when the
	// flags do not.
	EnvVar    = "NEXT_DEPLOY_ENV"
	ConfigVar = "NEXT_DEPLOY_CONFIG"
)

// Kinds of Source, from the strongest.
const (
	FromFlag    = "flag"
	FromEnv     = "env"
	FromFile    = "file"
	FromDefault = "default"
)

// Source is where a flag's value came from.
type Source struct {
	// Kind is FromFlag, FromEnv, FromFile or FromDefault.
	Kind string
	// Where is the input or variable ("input hosts",
	// "NEXT_DEPLOY_SSH_KEY") or the file's line ("next-deploy.yml:12").
	Where string
}

func (s Source) String() string {
	if s.Where != "" {
		return s.Where
	}
	return s.Kind
}

// fileState is what the file layer learned in one run.
type fileState struct {
	resolved *config.Resolved
	sources  map[string]Source
}

// registerFileFlags adds --env, -e and --config to a command's flags.
func registerFileFlags(fs *flag.FlagSet) {
	if fs.Lookup(EnvFlag) != nil || fs.Lookup(ConfigFlag) != nil {
		return
	}
	var env, file string
	fs.StringVar(&env, EnvFlag, "", "environment of "+config.FileName+" whose settings apply (default $"+EnvVar+")")
	fs.StringVar(&env, "e", "", "short for --env")
	fs.StringVar(&file, ConfigFlag, "", "settings file (default $"+ConfigVar+", else "+config.FileName+" in this directory when there is one)")
}

// Config is next-deploy.yml as it applies to this run; nil when there is
// none.
func (e *Env) Config() *config.Resolved {
	if e.file == nil {
		return nil
	}
	return e.file.resolved
}

// Source says where flag name's value came from.
func (e *Env) Source(name string) Source {
	if e.file != nil {
		if s, ok := e.file.sources[name]; ok {
			return s
		}
	}
	return Source{Kind: FromDefault}
}

// givenSources notes the flags given on the command line, and where each
// flag overlayInputs is about to fill comes from: it must be looked at
// before, as a secret's variable is gone once read.
func (e *Env) givenSources(fs *flag.FlagSet) map[string]Source {
	src := map[string]Source{}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = Source{Kind: FromFlag} })
	fs.VisitAll(func(f *flag.Flag) {
		if _, given := src[f.Name]; given {
			return
		}
		input := "INPUT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		switch v := SecretFlags[f.Name]; {
		case e.InActions && e.Getenv(input) != "":
			src[f.Name] = Source{Kind: FromEnv, Where: "input " + f.Name}
		case v != "" && e.Getenv(v) != "":
			src[f.Name] = Source{Kind: FromEnv, Where: v}
		}
	})
	return src
}

// applyFile fills every flag still unset from the file, for the
// environment chosen, and records where each value came from. known are
// givenSources from before the inputs were read.
func (e *Env) applyFile(fs *flag.FlagSet, known map[string]Source) error {
	st := &fileState{sources: map[string]Source{}}
	e.file = st
	fs.Visit(func(f *flag.Flag) {
		if s, ok := known[f.Name]; ok {
			st.sources[f.Name] = s
		} else {
			st.sources[f.Name] = Source{Kind: FromEnv}
		}
	})
	envName := fs.Lookup(EnvFlag).Value.String()
	if envName == "" {
		envName = e.Getenv(EnvVar)
	}
	path, named := e.configPath(fs)
	switch {
	case path == "" && envName != "":
		dir, _ := os.Getwd()
		return fmt.Errorf("--env %s: no %s in %s: give --config FILE or set %s", envName, config.FileName, dir, ConfigVar)
	case path == "", !named && envName == "" && !usesFile(fs):
		return nil
	}
	f, err := config.Load(path)
	if err != nil {
		return err
	}
	if st.resolved, err = f.Resolve(envName); err != nil {
		return err
	}
	var errs []error
	fs.VisitAll(func(fl *flag.Flag) {
		v, ok := st.resolved.Values[fl.Name]
		if _, set := st.sources[fl.Name]; set || !ok {
			return
		}
		if err := fs.Set(fl.Name, v.Value); err != nil {
			errs = append(errs, &config.Error{File: f.Name, Pos: v.Pos, Msg: v.Key + ": " + err.Error()})
			return
		}
		st.sources[fl.Name] = Source{Kind: FromFile, Where: v.Where(f.Name)}
	})
	return errors.Join(errs...)
}

// configPath is the file to read: --config, else $NEXT_DEPLOY_CONFIG
// (named: it must be there), else next-deploy.yml here if there is one.
func (e *Env) configPath(fs *flag.FlagSet) (path string, named bool) {
	if p := fs.Lookup(ConfigFlag).Value.String(); p != "" {
		return p, true
	}
	if p := e.Getenv(ConfigVar); p != "" {
		return p, true
	}
	if _, err := os.Stat(config.FileName); err == nil {
		return config.FileName, false
	}
	return "", false
}

// usesFile reports whether a command has a flag the file can set: one
// that has none (version, build) does not read a file it is not told to.
func usesFile(fs *flag.FlagSet) bool {
	keys := config.FlagKeys()
	used := false
	fs.VisitAll(func(f *flag.Flag) { used = used || slices.Contains(keys, f.Name) })
	return used
}

// parseArgs parses args into fs and returns the positional words. For an
// ArgsTaker flags may also follow its words (config pm2 --name shop,
// config show --env staging); after "--" everything is a word.
func parseArgs(fs *flag.FlagSet, args []string, interleave bool) ([]string, error) {
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if !interleave {
		return fs.Args(), nil
	}
	var words []string
	for {
		rest := fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
		if err := ParseFlags(fs, args); err != nil {
			return nil, err
		}
	}
}
