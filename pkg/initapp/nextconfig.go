package initapp

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Line is one of the settings next-deploy needs in next.config.
type Line struct {
	Key, Value string
	// Why is what breaks without it, for the message when the app sets
	// the key otherwise.
	Why string
}

// Lines are the three lines an app's next.config needs, in the order
// init writes them (README: "The app's next.config needs three lines").
var Lines = []Line{
	{"output", `"standalone"`, "next-deploy ships the standalone server (.next/standalone), which only output: \"standalone\" builds"},
	{"assetPrefix", "process.env.NEXT_DEPLOY_ASSET_PREFIX", "next-deploy serves each release's assets under /<release>/_next/ from the servers' disk (nginx), so an open page of an older release keeps getting its chunks: build-standalone sets NEXT_DEPLOY_ASSET_PREFIX=/<release>, and activate's health check wants the new release's page to reference it (a CDN prefix of your own would need every release's files uploaded there, which next-deploy does not do)"},
	{"generateBuildId", "async () => process.env.NEXT_DEPLOY_RELEASE ?? null", "the build id must be the release id (build-standalone sets NEXT_DEPLOY_RELEASE), so each release's static files are its own"},
}

// ConfigNames are the next.config files init edits, in the order Next
// looks for them.
var ConfigNames = []string{"next.config.js", "next.config.mjs", "next.config.ts"}

// configStatus is what init did, or would do, to next.config.
type configStatus int

const (
	configHasLines configStatus = iota // nothing to do
	configEdited                       // safe: the edit is made
	configByHand                       // not safe: the diff is shown
)

// configPlan is what init makes of an app's next.config.
type configPlan struct {
	status configStatus
	// old and new are the file's content and what it should become; new
	// is "" when the shape is not one init recognises.
	old, new string
	// added are the keys inserted; why says why init does not edit, and
	// short in a few words.
	added      []string
	why, short string
}

// findConfig is the app's next.config: "" when it has none, an error
// when it has two (Next would read one and ignore the other).
func findConfig(dir string) (string, error) {
	var found []string
	for _, n := range ConfigNames {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s has %s: keep one next.config", dir, strings.Join(found, " and "))
}

// planConfig decides how src, the content of next.config, gets the three
// lines: it has them, or they are inserted at the top of its exported
// object and nothing else changes, or (a key set to something else, a
// spread that may set them, a shape not recognised) the user does it.
func planConfig(src string) configPlan {
	p := configPlan{old: src}
	f, err := parseJS(src)
	var o int
	if err == nil {
		o, err = f.configObject()
	}
	if err != nil {
		p.status, p.why = configByHand, strings.TrimPrefix(err.Error(), errShape.Error()+": ")
		p.short = "a shape init does not edit"
		return p
	}
	q := f.quote()
	var edits []edit
	var missing, why, short []string
	props := f.props(o)
	for _, l := range Lines {
		want, _ := lex(l.Value)
		i := slices.IndexFunc(props, func(p prop) bool { return p.kind != opaque && p.key == l.Key })
		switch {
		case i < 0:
			missing = append(missing, l.Key)
		case props[i].kind == keyed && f.sameTokens(props[i].value, props[i].last+1, want):
		default:
			got := f.src[f.toks[props[i].first].pos:f.toks[props[i].last].end]
			why = append(why, fmt.Sprintf("line %d sets %s otherwise (%s), but %s", f.line(props[i].first), l.Key, firstLineOf(got), l.Why))
			short = append(short, "sets "+l.Key+" otherwise")
			edits = append(edits, edit{f.toks[props[i].first].pos, f.toks[props[i].last].end, l.Key + ": " + requote(l.Value, q)})
		}
	}
	if len(missing) == 0 && len(edits) == 0 {
		p.status = configHasLines
		return p
	}
	if len(missing) > 0 {
		edits = append(edits, f.insertion(o, missing, q))
	}
	if i := slices.IndexFunc(props, func(p prop) bool { return p.kind == opaque }); i >= 0 {
		why = append(why, fmt.Sprintf("line %d takes keys from elsewhere (%s), which may set these too: check which value wins", f.line(props[i].first), firstLineOf(f.src[f.toks[props[i].first].pos:f.toks[props[i].last].end])))
		short = append(short, "takes keys from elsewhere")
	}
	p.new = apply(src, edits)
	p.added = missing
	if len(why) > 0 {
		p.status, p.why, p.short = configByHand, strings.Join(why, "; "), strings.Join(short, ", ")
		return p
	}
	p.status = configEdited
	return p
}

// edit replaces src[pos:end] with text.
type edit struct {
	pos, end int
	text     string
}

func apply(src string, edits []edit) string {
	slices.SortFunc(edits, func(a, b edit) int { return b.pos - a.pos })
	for _, e := range edits {
		src = src[:e.pos] + e.text + src[e.end:]
	}
	return src
}

// insertion puts the missing keys at the top of the object at o: one a
// line, indented like its first property, when the object spans lines;
// on the brace's line when it does not.
func (f *jsFile) insertion(o int, keys []string, q byte) edit {
	open, c := f.toks[o], f.match[o]
	braceIndent := indentAt(f.src, open.pos)
	unit := "  "
	if strings.Contains(braceIndent, "\t") {
		unit = "\t"
	}
	var lines []string
	for _, k := range keys {
		lines = append(lines, k+": "+requote(valueOf(k), q)+",")
	}
	inner := f.src[open.end:f.toks[c].pos]
	nl := strings.IndexByte(inner, '\n')
	// The line after the brace's, unless a block comment spans it.
	rest := strings.TrimSpace(inner[:max(nl, 0)])
	switch {
	case f.toks[o+1].nl && (rest == "" || strings.HasPrefix(rest, "//")):
		indent := braceIndent + unit
		if o+1 != c {
			indent = indentAt(f.src, f.toks[o+1].pos)
		}
		at := open.end + nl + 1
		return edit{at, at, indent + strings.Join(lines, "\n"+indent) + "\n"}
	case o+1 == c && strings.TrimSpace(inner) == "":
		indent := braceIndent + unit
		return edit{open.end, f.toks[c].pos, "\n" + indent + strings.Join(lines, "\n"+indent) + "\n" + braceIndent}
	}
	text := " " + strings.Join(lines, " ")
	if !strings.HasPrefix(inner, " ") {
		text += " "
	}
	return edit{open.end, open.end, text}
}

// indentAt is the whitespace that starts the line holding pos.
func indentAt(src string, pos int) string {
	start := strings.LastIndexByte(src[:pos], '\n') + 1
	end := start
	for end < len(src) && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return src[start:end]
}

// quote is the quote the file's strings mostly use.
func (f *jsFile) quote() byte {
	single, double := 0, 0
	for _, t := range f.toks {
		if t.kind == tString && t.text[0] == '\'' {
			single++
		} else if t.kind == tString {
			double++
		}
	}
	if single > double {
		return '\''
	}
	return '"'
}

func requote(v string, q byte) string {
	if q == '"' {
		return v
	}
	return strings.ReplaceAll(v, `"`, string(q))
}

func valueOf(key string) string {
	for _, l := range Lines {
		if l.Key == key {
			return l.Value
		}
	}
	panic("initapp: no line " + key)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// newConfig is the next.config of an app that has none: TypeScript when
// the app is (a tsconfig.json), else an ES module.
func newConfig(dir string) (name, content string) {
	var b strings.Builder
	name = "next.config.mjs"
	if _, err := os.Stat(filepath.Join(dir, "tsconfig.json")); err == nil {
		name = "next.config.ts"
		b.WriteString("import type { NextConfig } from \"next\";\n\nconst nextConfig: NextConfig = {\n")
	} else {
		b.WriteString("/** @type {import('next').NextConfig} */\nconst nextConfig = {\n")
	}
	for _, l := range Lines {
		fmt.Fprintf(&b, "  %s: %s,\n", l.Key, l.Value)
	}
	b.WriteString("};\n\nexport default nextConfig;\n")
	return name, b.String()
}
