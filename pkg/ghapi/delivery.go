package ghapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/org/next-deploy/pkg/barrier"
)

// Delivery says which jobs of a run deliver a release, and how to tell
// that one has: the barrier of a matrix workflow where each job delivers
// to one server.
type Delivery struct {
	// Pattern is a glob over job names ("deploy (*)"): '*' matches any
	// text, '?' one character. It is matched against the whole name and
	// against the part after the last " / ", so "deploy (*)" also matches
	// "production / deploy (a)" (the name a reusable workflow's job gets).
	Pattern string
	// Step is the step that delivers (a name or a glob). A job has
	// delivered when every step it names concluded success, or when the
	// whole job completed successfully.
	Step string
	// Expect, when above 0, is how many matching jobs there must be;
	// fewer means some are not created yet.
	Expect int
}

// Validate checks d before anything is asked of GitHub.
func (d Delivery) Validate() error {
	var problems []string
	if strings.TrimSpace(d.Pattern) == "" {
		problems = append(problems, "job pattern is empty (want a glob like \"deploy (*)\")")
	}
	if strings.TrimSpace(d.Step) == "" {
		problems = append(problems, "step name is empty (want the name of the step that delivers, like \"deliver\")")
	}
	if d.Expect < 0 {
		problems = append(problems, fmt.Sprintf("expected job count %d: want 0 or more", d.Expect))
	}
	if len(problems) > 0 {
		return fmt.Errorf("jobs barrier: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Matches reports whether the job name is one d waits for.
func (d Delivery) Matches(name string) bool {
	if Glob(d.Pattern, name) {
		return true
	}
	if i := strings.LastIndex(name, " / "); i >= 0 {
		return Glob(d.Pattern, name[i+len(" / "):])
	}
	return false
}

// Status judges every job d waits for: ready once delivered, failed when
// its delivery step or the job ended otherwise (waiting longer cannot
// help), else waiting. While fewer jobs match than expected (or none),
// a member named after the pattern waits for the others to appear.
func (d Delivery) Status(jobs []Job) barrier.Status {
	var st barrier.Status
	var others []string
	for _, j := range jobs {
		if !d.Matches(j.Name) {
			others = append(others, j.Name)
			continue
		}
		st.Members = append(st.Members, d.judge(j))
	}
	n := len(st.Members)
	switch {
	case d.Expect > 0 && n < d.Expect:
		st.Members = append(st.Members, barrier.Member{
			Name:   fmt.Sprintf("jobs matching %q", d.Pattern),
			State:  barrier.Waiting,
			Detail: fmt.Sprintf("%d of %d expected jobs exist", n, d.Expect),
		})
	case n == 0:
		detail := "no job matches yet"
		if len(others) > 0 {
			detail += "; jobs of this run: " + listSome(others, 10)
		}
		st.Members = append(st.Members, barrier.Member{
			Name:   fmt.Sprintf("jobs matching %q", d.Pattern),
			State:  barrier.Waiting,
			Detail: detail,
		})
	}
	return st
}

// judge says where one matching job stands.
func (d Delivery) judge(j Job) barrier.Member {
	m := barrier.Member{Name: j.Name, State: barrier.Waiting}
	fail := func(detail string) barrier.Member {
		if j.URL != "" {
			detail += " (" + j.URL + ")"
		}
		m.State, m.Detail = barrier.Failed, detail
		return m
	}
	var steps []Step
	for _, s := range j.Steps {
		if Glob(d.Step, s.Name) {
			steps = append(steps, s)
		}
	}
	succeeded := 0
	for _, s := range steps {
		switch s.Conclusion {
		case "success":
			succeeded++
		case "failure", "cancelled", "timed_out":
			return fail(fmt.Sprintf("step %q concluded %s", s.Name, s.Conclusion))
		}
	}
	if len(steps) > 0 && succeeded == len(steps) {
		m.State, m.Detail = barrier.Ready, fmt.Sprintf("step %q succeeded", steps[0].Name)
		return m
	}
	if j.Status == "completed" {
		switch j.Conclusion {
		case "success":
			m.State, m.Detail = barrier.Ready, "job succeeded"
			return m
		case "skipped":
			return fail("job was skipped: it delivers nothing")
		default:
			return fail("job concluded " + orUnknown(j.Conclusion))
		}
	}
	switch {
	case len(steps) > 0:
		s := steps[len(steps)-1]
		for _, x := range steps {
			if x.Conclusion != "success" {
				s = x
				break
			}
		}
		m.Detail = fmt.Sprintf("step %q %s", s.Name, orUnknown(s.Status))
	case len(j.Steps) > 0:
		m.Detail = fmt.Sprintf("job %s, no step matching %q (yet)", orUnknown(j.Status), d.Step)
	default:
		m.Detail = "job " + orUnknown(j.Status)
	}
	return m
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// Poll returns the barrier poll of d over run: every call lists the run's
// jobs and judges them. Errors asking again cannot fix (bad token, no
// permission, no such run) are marked barrier.Permanent, so the wait
// stops at once; the others (5xx after retries, rate limits, network) are
// retried on the next round.
func (c *Client) Poll(run Run, d Delivery) barrier.Poll {
	return func(ctx context.Context) (barrier.Status, error) {
		jobs, err := c.Jobs(ctx, run)
		if err != nil {
			if IsPermanent(err) {
				return barrier.Status{}, barrier.Permanent(err)
			}
			return barrier.Status{}, err
		}
		return d.Status(jobs), nil
	}
}

// Glob reports whether name matches pattern, where '*' matches any text
// (including '/') and '?' any one character; everything else stands for
// itself. Unlike path.Match, '/' and '[' are not special: job names hold
// both ("deploy / web [eu]").
func Glob(pattern, name string) bool {
	p, s := []rune(pattern), []rune(name)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
