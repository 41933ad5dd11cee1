package initapp

import (
	"fmt"
	"strings"
)

// The lexer reads just enough JavaScript and TypeScript to find the object
// a next.config exports and the keys at its top level without being fooled
// by a brace in a string, a comment, a template literal or a regular
// expression. It does not parse: what it cannot read it refuses, and init
// then edits nothing.

type tokKind int

const (
	tIdent tokKind = iota
	tPunct
	tString
	tTemplate
	tNumber
	tRegex
)

// token is one token of the source, without the whitespace and comments
// around it.
type token struct {
	kind tokKind
	text string
	// pos and end are byte offsets in the source.
	pos, end int
	// nl is true when a line break comes between the previous token and
	// this one.
	nl bool
}

// value is a string token's value without its quotes (escapes kept: the
// three lines need none); any other token's text.
func (t token) value() string {
	if t.kind == tString && len(t.text) >= 2 {
		return t.text[1 : len(t.text)-1]
	}
	return t.text
}

type lexer struct {
	src  string
	i    int
	nl   bool
	toks []token
}

// lex splits src into tokens; an unterminated string, comment, template or
// regular expression is an error naming its line.
func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	if err := l.run(false); err != nil {
		return nil, err
	}
	return l.toks, nil
}

// run lexes to the end of the source or, in a template's ${...}, to the
// brace that closes it.
func (l *lexer) run(sub bool) error {
	depth := 0
	for l.i < len(l.src) {
		c, rest := l.src[l.i], l.src[l.i:]
		var err error
		switch {
		case c == '\n':
			l.nl = true
			l.i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.i++
		case strings.HasPrefix(rest, "//"):
			if n := strings.IndexByte(rest, '\n'); n >= 0 {
				l.i += n
			} else {
				l.i = len(l.src)
			}
		case strings.HasPrefix(rest, "/*"):
			n := strings.Index(rest[2:], "*/")
			if n < 0 {
				return l.errorf(l.i, "unterminated comment")
			}
			l.nl = l.nl || strings.Contains(rest[:n+2], "\n")
			l.i += n + 4
		case c == '"' || c == '\'':
			err = l.quoted(c)
		case c == '`':
			err = l.template()
		case isIdentByte(c) && !isDigit(c):
			l.span(tIdent, isIdentByte)
		case isDigit(c) || c == '.' && len(rest) > 1 && isDigit(rest[1]):
			l.span(tNumber, func(b byte) bool { return isIdentByte(b) || b == '.' })
		case c == '/' && l.regexAllowed():
			err = l.regex()
		case sub && c == '}' && depth == 0:
			l.i++
			return nil
		default:
			if c == '{' {
				depth++
			} else if c == '}' {
				depth--
			}
			l.emit(tPunct, l.i, l.i+1)
		}
		if err != nil {
			return err
		}
	}
	if sub {
		return l.errorf(len(l.src), "unterminated ${ in a template literal")
	}
	return nil
}

func (l *lexer) emit(k tokKind, pos, end int) {
	l.toks = append(l.toks, token{kind: k, text: l.src[pos:end], pos: pos, end: end, nl: l.nl})
	l.nl = false
	l.i = end
}

func (l *lexer) span(k tokKind, in func(byte) bool) {
	end := l.i + 1
	for end < len(l.src) && in(l.src[end]) {
		end++
	}
	l.emit(k, l.i, end)
}

func (l *lexer) quoted(q byte) error {
	for j := l.i + 1; j < len(l.src); j++ {
		switch l.src[j] {
		case '\\':
			j++
		case '\n':
			return l.errorf(l.i, "unterminated string")
		case q:
			l.emit(tString, l.i, j+1)
			return nil
		}
	}
	return l.errorf(l.i, "unterminated string")
}

// template is a template literal as one token; what its ${...} hold is
// lexed only to find where they end.
func (l *lexer) template() error {
	start := l.i
	for j := l.i + 1; j < len(l.src); j++ {
		switch {
		case l.src[j] == '\\':
			j++
		case l.src[j] == '`':
			l.emit(tTemplate, start, j+1)
			return nil
		case strings.HasPrefix(l.src[j:], "${"):
			sub := &lexer{src: l.src, i: j + 2}
			if err := sub.run(true); err != nil {
				return err
			}
			j = sub.i - 1
		}
	}
	return l.errorf(start, "unterminated template literal")
}

// regexAllowed tells a regular expression from a division by the token
// before it.
func (l *lexer) regexAllowed() bool {
	if len(l.toks) == 0 {
		return true
	}
	switch p := l.toks[len(l.toks)-1]; p.kind {
	case tPunct:
		return p.text != ")" && p.text != "]" && p.text != "}"
	case tIdent:
		switch p.text {
		case "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await":
			return true
		}
	}
	return false
}

func (l *lexer) regex() error {
	class := false
	for j := l.i + 1; j < len(l.src); j++ {
		switch l.src[j] {
		case '\\':
			j++
		case '\n':
			return l.errorf(l.i, "unterminated regular expression")
		case '[':
			class = true
		case ']':
			class = false
		case '/':
			if class {
				continue
			}
			end := j + 1
			for end < len(l.src) && isIdentByte(l.src[end]) {
				end++
			}
			l.emit(tRegex, l.i, end)
			return nil
		}
	}
	return l.errorf(l.i, "unterminated regular expression")
}

func (l *lexer) errorf(pos int, format string, a ...any) error {
	line := 1 + strings.Count(l.src[:min(pos, len(l.src))], "\n")
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, a...))
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isIdentByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || isDigit(b) || b == '_' || b == '$' || b >= 0x80
}
