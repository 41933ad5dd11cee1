package initapp

import (
	"errors"
	"fmt"
)

// jsFile is a lexed next.config with its brackets matched.
type jsFile struct {
	src  string
	toks []token
	// match is the index of each bracket's partner, -1 for other tokens.
	match []int
	// depth is how many brackets enclose each token.
	depth []int
}

// errShape is a config whose shape init does not recognise: it then
// edits nothing and says what to add.
var errShape = errors.New("not a shape init edits")

func shapeErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errShape, fmt.Sprintf(format, a...))
}

func parseJS(src string) (*jsFile, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, shapeErrorf("%v", err)
	}
	f := &jsFile{src: src, toks: toks, match: make([]int, len(toks)), depth: make([]int, len(toks))}
	pairs := map[string]string{")": "(", "]": "[", "}": "{"}
	var stack []int
	for i, t := range toks {
		f.match[i] = -1
		f.depth[i] = len(stack)
		if t.kind != tPunct {
			continue
		}
		switch t.text {
		case "(", "[", "{":
			stack = append(stack, i)
		case ")", "]", "}":
			if len(stack) == 0 || toks[stack[len(stack)-1]].text != pairs[t.text] {
				return nil, shapeErrorf("line %d: unbalanced %q", f.line(i), t.text)
			}
			open := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			f.match[i], f.match[open] = open, i
			f.depth[i] = len(stack)
		}
	}
	if len(stack) > 0 {
		return nil, shapeErrorf("line %d: %q is never closed", f.line(stack[len(stack)-1]), toks[stack[len(stack)-1]].text)
	}
	return f, nil
}

func (f *jsFile) line(i int) int {
	n := 1
	for _, c := range f.src[:f.toks[i].pos] {
		if c == '\n' {
			n++
		}
	}
	return n
}

func (f *jsFile) is(i int, kind tokKind, text string) bool {
	return i >= 0 && i < len(f.toks) && f.toks[i].kind == kind && f.toks[i].text == text
}

func (f *jsFile) punct(i int, text string) bool { return f.is(i, tPunct, text) }

// configObject finds the object literal the file exports: the index of
// its opening brace.
func (f *jsFile) configObject() (int, error) {
	var starts []int
	for i := range f.toks {
		switch {
		case f.depth[i] != 0:
		case f.is(i, tIdent, "export") && f.is(i+1, tIdent, "default"):
			starts = append(starts, i+2)
		case f.is(i, tIdent, "module") && f.punct(i+1, ".") && f.is(i+2, tIdent, "exports") && f.punct(i+3, "=") && !f.punct(i+4, "="):
			starts = append(starts, i+4)
		}
	}
	switch len(starts) {
	case 0:
		return -1, shapeErrorf("no export default or module.exports = at its top level")
	case 1:
	default:
		return -1, shapeErrorf("it exports more than once (lines %d and %d)", f.line(starts[0]-1), f.line(starts[1]-1))
	}
	return f.objectIn(starts[0], f.exprEnd(starts[0]), 3)
}

// exprEnd is where the expression starting at token s ends: a ; at its
// level, the end of the file, or a new statement on a new line.
func (f *jsFile) exprEnd(s int) int {
	d := f.depth[s]
	for j := s; j < len(f.toks); j++ {
		t := f.toks[j]
		if f.depth[j] < d || f.depth[j] == d && t.kind == tPunct && t.text == ";" {
			return j
		}
		if j > s && f.depth[j] == d && t.nl && endsExpr(f.toks[j-1]) && startsStatement(t) {
			return j
		}
		if f.match[j] > j {
			j = f.match[j]
		}
	}
	return len(f.toks)
}

func endsExpr(t token) bool {
	return t.kind != tPunct || t.text == ")" || t.text == "]" || t.text == "}"
}

func startsStatement(t token) bool {
	switch t.kind {
	case tIdent:
		return t.text != "as" && t.text != "satisfies" && t.text != "instanceof" && t.text != "in"
	case tPunct:
		return false
	}
	return true
}

// objectIn finds the config object in the expression [s, e): an object
// literal, a name declared as one, or the argument of a plugin's call
// (withX(nextConfig), withX({...})). A function, or more than one
// candidate, is not a shape init edits.
func (f *jsFile) objectIn(s, e, hops int) (int, error) {
	for s < e && f.punct(s, "(") && f.match[s] == e-1 {
		s, e = s+1, e-1
	}
	if s >= e {
		return -1, shapeErrorf("line %d: nothing is exported", f.line(min(s, len(f.toks)-1)))
	}
	if f.punct(s, "{") {
		return s, nil
	}
	if f.toks[s].kind == tIdent && (s+1 == e || f.is(s+1, tIdent, "as") || f.is(s+1, tIdent, "satisfies")) {
		return f.declared(f.toks[s].text, hops)
	}
	var objs, named []int
	for k := s; k < e; k++ {
		t := f.toks[k]
		switch {
		case f.is(k, tIdent, "function") || t.text == "=" && f.punct(k+1, ">"):
			return -1, shapeErrorf("line %d: the config is made by a function", f.line(k))
		case f.punct(k, "{"):
			if f.punct(k-1, "(") {
				objs = append(objs, k)
			}
			k = f.match[k]
		case t.kind == tIdent && (f.punct(k-1, "(") || f.punct(k-1, ",")) && (f.punct(k+1, ")") || f.punct(k+1, ",")):
			if o, err := f.declared(t.text, hops); err == nil {
				named = append(named, o)
			}
		}
	}
	switch {
	case len(named) == 1:
		return named[0], nil
	case len(named) == 0 && len(objs) == 1:
		return objs[0], nil
	}
	return -1, shapeErrorf("line %d: cannot tell which object is the config", f.line(s))
}

// declared is the object the top-level const, let or var name is
// initialised with.
func (f *jsFile) declared(name string, hops int) (int, error) {
	if hops == 0 {
		return -1, shapeErrorf("%s: too many hops to the object", name)
	}
	for i := range f.toks {
		if f.depth[i] != 0 || !(f.is(i, tIdent, "const") || f.is(i, tIdent, "let") || f.is(i, tIdent, "var")) || !f.is(i+1, tIdent, name) {
			continue
		}
		k := i + 2
		if f.punct(k, ":") { // a type: up to the = at this level
			for k < len(f.toks) && !(f.punct(k, "=") && !f.punct(k+1, ">")) && f.depth[k] == 0 {
				if f.match[k] > k {
					k = f.match[k]
				}
				k++
			}
		}
		if !f.punct(k, "=") {
			break
		}
		return f.objectIn(k+1, f.exprEnd(k+1), hops-1)
	}
	return -1, shapeErrorf("%s is not declared at the top level", name)
}

// propKind is the form of one property of an object literal.
type propKind int

const (
	keyed     propKind = iota // key: value
	method                    // key() {...}
	shorthand                 // key
	opaque                    // ...spread or [computed]: its keys are unknown
)

// prop is one property at the top level of an object literal.
type prop struct {
	kind propKind
	key  string
	// first and last are its first and last tokens; value its value's
	// first token (keyed).
	first, last, value int
}

// props lists the top-level properties of the object literal at o.
func (f *jsFile) props(o int) []prop {
	var out []prop
	c := f.match[o]
	for k := o + 1; k < c; k++ {
		s := k
		for k < c && !f.punct(k, ",") {
			if f.match[k] > k {
				k = f.match[k]
			}
			k++
		}
		if s == k {
			continue
		}
		out = append(out, f.classify(s, k))
	}
	return out
}

func (f *jsFile) classify(s, e int) prop {
	p := prop{kind: opaque, first: s, last: e - 1}
	t := f.toks[s]
	named := t.kind == tIdent || t.kind == tString || t.kind == tNumber
	switch {
	case named && f.punct(s+1, ":"):
		p.kind, p.key, p.value = keyed, t.value(), s+2
	case named && (f.punct(s+1, "(") || f.punct(s+1, "<")):
		p.kind, p.key = method, t.value()
	case (f.is(s, tIdent, "async") || f.is(s, tIdent, "get") || f.is(s, tIdent, "set") || f.punct(s, "*")) &&
		s+1 < e && f.toks[s+1].kind == tIdent && (f.punct(s+2, "(") || f.punct(s+2, "<")):
		p.kind, p.key = method, f.toks[s+1].text
	case t.kind == tIdent && e == s+1:
		p.kind, p.key = shorthand, t.text
	}
	return p
}

// sameTokens reports whether the tokens [s, e) of f read as want: equal
// token for token, strings by value whatever their quotes.
func (f *jsFile) sameTokens(s, e int, want []token) bool {
	if e-s != len(want) {
		return false
	}
	for i, w := range want {
		t := f.toks[s+i]
		if t.kind != w.kind || t.value() != w.value() {
			return false
		}
	}
	return true
}
