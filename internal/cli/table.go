package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Table is a result table: printed aligned on a terminal and as Markdown in
// the job summary.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// WriteText writes t aligned for a terminal.
func (t *Table) WriteText(w io.Writer) error {
	if t.Title != "" {
		fmt.Fprintf(w, "%s\n", t.Title)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// Markdown renders t as a GitHub-flavoured Markdown table.
func (t *Table) Markdown() string {
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", t.Title)
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(strings.ReplaceAll(c, "|", `\|`), "\n", " ") + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---"
	}
	row(sep)
	for _, r := range t.Rows {
		row(r)
	}
	return b.String()
}

// Report hands over a command's result: with --json, v becomes the
// envelope's result (App.Main prints it once, with the exit status);
// else the tables go to stdout. In Actions the tables also go to the job
// summary (GITHUB_STEP_SUMMARY). Nil tables are left out.
func (e *Env) Report(v any, tables ...*Table) error {
	var ts []*Table
	for _, t := range tables {
		if t != nil {
			ts = append(ts, t)
		}
	}
	if e.InActions && e.Getenv("GITHUB_STEP_SUMMARY") != "" {
		for _, t := range ts {
			e.Action.AddStepSummary(t.Markdown())
		}
	}
	if e.JSON() {
		e.json.result = v
		return nil
	}
	for i, t := range ts {
		if i > 0 {
			fmt.Fprintln(e.Stdout)
		}
		if err := t.WriteText(e.Stdout); err != nil {
			return err
		}
	}
	return nil
}

// Warnf reports a finding that is not a failure: a ::warning::
// annotation and a line in the job summary in Actions, a line on stderr
// elsewhere.
func (e *Env) Warnf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if e.InActions {
		e.Action.Warningf("%s", msg)
		if e.Getenv("GITHUB_STEP_SUMMARY") != "" {
			e.Action.AddStepSummary("> [!WARNING]\n> " + strings.ReplaceAll(msg, "\n", "\n> ") + "\n")
		}
		return
	}
	e.Progressf("warning: %s", msg)
}

// Progressf prints a progress line for long work: to stderr on a terminal,
// so --json output on stdout stays clean; as a plain log line in Actions.
func (e *Env) Progressf(format string, a ...any) {
	w := e.Stderr
	if w == nil {
		w = os.Stderr
	}
	e.progress.Lock()
	defer e.progress.Unlock()
	fmt.Fprintf(w, format+"\n", a...)
}

// SetOutput writes a step output in Actions (GITHUB_OUTPUT); elsewhere it
// does nothing.
func (e *Env) SetOutput(name, value string) {
	if e.InActions {
		e.Action.SetOutput(name, value)
	}
}
