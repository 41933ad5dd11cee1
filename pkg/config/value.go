package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Pos is a place in the file: 1-based line and column.
type Pos struct{ Line, Col int }

func posOf(n ast.Node) Pos {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return Pos{Line: tk.Position.Line, Col: tk.Position.Column}
	}
	return Pos{Line: 1, Col: 1}
}

// meta is what every setting knows besides its value: whether the file
// gives it, where, as what text, and why that text is not a value of its
// kind. Decoding never stops at a bad value: Parse reports them all.
type meta struct {
	// Set is true when the file gives the key a value (an empty value,
	// key: with nothing after it, is the same as no key).
	Set bool
	// Pos is where the value starts.
	Pos Pos
	// Text is the value as written, as a flag would take it.
	Text  string
	probs []problem
}

// problem is one thing wrong with a value, at its place.
type problem struct {
	pos Pos
	msg string
}

func (m *meta) base() *meta { return m }

func (m *meta) start(n ast.Node) {
	m.Set, m.Pos = true, posOf(n)
}

// fail notes a problem at pos.
func (m *meta) fail(pos Pos, format string, a ...any) {
	m.probs = append(m.probs, problem{pos, fmt.Sprintf(format, a...)})
}

// ok reports whether the value is there and of its kind, so it can be
// checked further.
func (m *meta) ok() bool { return m.Set && len(m.probs) == 0 }

// Value is one plain setting: a string, a whole number, true/false or a
// duration ("90s", "5m").
type Value[T string | int | bool | time.Duration] struct {
	meta
	V T
}

// UnmarshalYAML implements yaml.NodeUnmarshaler: a scalar of T's kind.
func (v *Value[T]) UnmarshalYAML(n ast.Node) error {
	v.start(n)
	text, ok := scalar(n)
	if !ok {
		v.fail(v.Pos, "want a single value, not %s", kindOf(n))
		return nil
	}
	v.Text = text
	switch p := any(&v.V).(type) {
	case *string:
		*p = text
	case *int:
		i, err := strconv.Atoi(text)
		if err != nil {
			v.fail(v.Pos, "want a whole number, not %q", text)
		}
		*p = i
	case *bool:
		switch text {
		case "true":
			*p = true
		case "false":
			*p = false
		default:
			v.fail(v.Pos, "want true or false, not %q", text)
		}
	case *time.Duration:
		d, err := time.ParseDuration(text)
		if err != nil {
			v.fail(v.Pos, "want a duration like 30s, 5m or 1h30m, not %q", text)
		}
		*p = d
	}
	return nil
}

// scalar is the text of a scalar node: a string's content without its
// quotes, a block literal's lines, anything else as written.
func scalar(n ast.Node) (string, bool) {
	n = unwrap(n)
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// unwrap looks through a tag (!!str) or an anchor (&a) to the value.
func unwrap(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		default:
			return n
		}
	}
}

func kindOf(n ast.Node) string {
	switch unwrap(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return strings.ToLower(n.Type().String())
}

// keyText is the text of a mapping key.
func keyText(n ast.MapKeyNode) string {
	if s, ok := scalar(n); ok {
		return s
	}
	return n.String()
}
