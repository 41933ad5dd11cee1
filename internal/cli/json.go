package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// JSONFlag registers --json on fs: the command's result, or its error,
// printed once on stdout as an Envelope instead of tables. A command
// hands its result to Env.Report; App.Main prints the envelope with the
// exit status.
func JSONFlag(fs *flag.FlagSet) {
	fs.Bool("json", false, `print the result, or the error, as one JSON object on stdout: {"command", "ok", "exit", "error", "result"}`)
}

// Envelope is what a command run with --json prints: the same shape for
// every command, whether it worked or not.
type Envelope struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	// Exit is the exit status: 0 done, 1 failed, 2 bad input (nothing
	// touched), 3 a finding.
	Exit  int            `json:"exit"`
	Error *EnvelopeError `json:"error,omitempty"`
	// Result is the command's result (what its tables show); on failure
	// the part it got to, or null.
	Result any `json:"result"`
}

// EnvelopeError is a failed command's error.
type EnvelopeError struct {
	Message string `json:"message"`
	// Host is the host the error happened on, when it names one host;
	// Hosts the hosts, when it names several.
	Host  string   `json:"host,omitempty"`
	Hosts []string `json:"hosts,omitempty"`
}

// HostError is an error that happened on one host. Steps and concepts
// implement it on their own errors, so they need not import the Face,
// and the envelope names the host (error.host) without parsing messages.
type HostError interface {
	ErrorHost() string
}

// DecodeEnvelope reads what --json printed, decoding the result into
// result (a pointer; left alone when the result is null).
func DecodeEnvelope(data []byte, result any) (*Envelope, error) {
	e := Envelope{Result: result}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("--json envelope: %w", err)
	}
	return &e, nil
}

// jsonRun is the --json state of the command App.Main runs.
type jsonRun struct {
	command string
	fs      *flag.FlagSet
	// parsed: the flags parsed, and fs says whether --json is set (an
	// Actions input may set it too). Else asked says whether it was given.
	parsed, asked bool
	result        any
}

// JSON reports whether the running command prints its result as JSON
// (it has --json, and it is set).
func (e *Env) JSON() bool {
	r := e.json
	if r == nil || r.fs.Lookup("json") == nil {
		return false
	}
	if !r.parsed {
		return r.asked
	}
	return r.fs.Lookup("json").Value.String() == "true"
}

// jsonInArgs reports whether args give --json (or -json, --json=true)
// before a "--": how a --json that the flag package did not reach, after
// a bad flag, still asks for the envelope.
func jsonInArgs(args []string) bool {
	asked := false
	for _, a := range args {
		if a == "--" {
			break
		}
		name, ok := strings.CutPrefix(a, "-")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "-")
		name, value, hasValue := strings.Cut(name, "=")
		if name != "json" {
			continue
		}
		asked = true
		if hasValue {
			asked, _ = strconv.ParseBool(value)
		}
	}
	return asked
}

// writeEnvelope prints the envelope of the command's run on stdout and
// returns err, joined with why the envelope could not be printed, if so.
func (e *Env) writeEnvelope(err error) error {
	r := e.json
	out, jerr := json.MarshalIndent(envelope(r.command, err, r.result), "", "  ")
	if jerr != nil {
		err = errors.Join(err, fmt.Errorf("--json: the result of %s: %w", r.command, jerr))
		out, _ = json.MarshalIndent(envelope(r.command, err, nil), "", "  ")
	}
	if _, werr := e.Stdout.Write(append(out, '\n')); werr != nil {
		err = errors.Join(err, fmt.Errorf("--json: write the result: %w", werr))
	}
	return err
}

func envelope(command string, err error, result any) Envelope {
	env := Envelope{Command: command, OK: err == nil, Exit: ExitStatus(err), Result: result}
	if err != nil {
		env.Error = &EnvelopeError{Message: err.Error()}
		if hosts := errorHosts(err); len(hosts) == 1 {
			env.Error.Host = hosts[0]
		} else {
			env.Error.Hosts = hosts
		}
	}
	return env
}

// errorHosts are the hosts the HostErrors in err's tree name, each once,
// in the order found.
func errorHosts(err error) []string {
	var hosts []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if h, ok := err.(HostError); ok {
			if name := h.ErrorHost(); name != "" && !slices.Contains(hosts, name) {
				hosts = append(hosts, name)
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return hosts
}
