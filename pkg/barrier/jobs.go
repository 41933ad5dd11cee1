package barrier

import (
	"context"
	"fmt"
	"strings"

	"github.com/org/next-deploy/pkg/ghapi"
)

// JobLister lists the jobs of a workflow run: *ghapi.Client, or a fake.
type JobLister interface {
	Jobs(ctx context.Context, run ghapi.Run) ([]ghapi.Job, error)
}

// JobsOptions say which jobs of a run deliver a release, and how to tell
// that one has: the barrier of a matrix workflow where each job delivers
// to one server.
type JobsOptions struct {
	Client JobLister
	Run    ghapi.Run
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

// Validate checks o before anything is asked of GitHub.
func (o JobsOptions) Validate() error {
	var problems []string
	if strings.TrimSpace(o.Pattern) == "" {
		problems = append(problems, "job pattern is empty (want a glob like \"deploy (*)\")")
	}
	if strings.TrimSpace(o.Step) == "" {
		problems = append(problems, "step name is empty (want the name of the step that delivers, like \"deliver\")")
	}
	if o.Expect < 0 {
		problems = append(problems, fmt.Sprintf("expected job count %d: want 0 or more", o.Expect))
	}
	if len(problems) > 0 {
		return fmt.Errorf("jobs barrier: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Jobs plans waiting until every job o names has delivered. Every poll
// lists the run's jobs and judges them. Errors asking again cannot fix
// (bad token, no permission, no such run: ghapi.IsPermanent) stop the
// wait at once; the others (5xx after retries, rate limits, network) are
// retried on the next round.
func Jobs(o JobsOptions) Plan {
	return Plan{
		Poll: func(ctx context.Context) (Status, error) {
			jobs, err := o.Client.Jobs(ctx, o.Run)
			if err != nil {
				if ghapi.IsPermanent(err) {
					return Status{}, Permanent(err)
				}
				return Status{}, err
			}
			return o.status(jobs), nil
		},
		Noun:        "jobs",
		Title:       fmt.Sprintf("jobs matching %q in %s", o.Pattern, o.Run),
		Subject:     fmt.Sprintf("not every job matching %q delivered", o.Pattern),
		TimeoutHint: "look at the jobs named in the run; check that --jobs and --step match the workflow's job and step names, or raise --timeout",
		FailHint:    "fix that job's delivery and re-run the failed jobs",
	}
}

// matches reports whether the job name is one o waits for.
func (o JobsOptions) matches(name string) bool {
	if glob(o.Pattern, name) {
		return true
	}
	if i := strings.LastIndex(name, " / "); i >= 0 {
		return glob(o.Pattern, name[i+len(" / "):])
	}
	return false
}

// status judges every job o waits for: ready once delivered, failed when
// its delivery step or the job ended otherwise (waiting longer cannot
// help), else waiting. While fewer jobs match than expected (or none),
// a member named after the pattern waits for the others to appear.
func (o JobsOptions) status(jobs []ghapi.Job) Status {
	var st Status
	var others []string
	for _, j := range jobs {
		if !o.matches(j.Name) {
			others = append(others, j.Name)
			continue
		}
		st.Members = append(st.Members, o.judge(j))
	}
	n := len(st.Members)
	switch {
	case o.Expect > 0 && n < o.Expect:
		st.Members = append(st.Members, Member{
			Name:   fmt.Sprintf("jobs matching %q", o.Pattern),
			State:  Waiting,
			Detail: fmt.Sprintf("%d of %d expected jobs exist", n, o.Expect),
		})
	case n == 0:
		detail := "no job matches yet"
		if len(others) > 0 {
			detail += "; jobs of this run: " + listSome(others, 10)
		}
		st.Members = append(st.Members, Member{
			Name:   fmt.Sprintf("jobs matching %q", o.Pattern),
			State:  Waiting,
			Detail: detail,
		})
	}
	return st
}

// judge says where one matching job stands.
func (o JobsOptions) judge(j ghapi.Job) Member {
	m := Member{Name: j.Name, State: Waiting}
	fail := func(detail string) Member {
		if j.URL != "" {
			detail += " (" + j.URL + ")"
		}
		m.State, m.Detail = Failed, detail
		return m
	}
	var steps []ghapi.Step
	for _, s := range j.Steps {
		if glob(o.Step, s.Name) {
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
		m.State, m.Detail = Ready, fmt.Sprintf("step %q succeeded", steps[0].Name)
		return m
	}
	if j.Status == "completed" {
		switch j.Conclusion {
		case "success":
			m.State, m.Detail = Ready, "job succeeded"
			return m
		case "skipped":
			return fail("job was skipped: it delivers nothing")
		default:
			return fail("job concluded " + orUnknown(j.Conclusion))
		}
	}
	m.Detail = o.pending(j, steps)
	return m
}

// pending says why a job still running has not delivered yet.
func (o JobsOptions) pending(j ghapi.Job, steps []ghapi.Step) string {
	switch {
	case len(steps) > 0:
		s := steps[len(steps)-1]
		for _, x := range steps {
			if x.Conclusion != "success" {
				s = x
				break
			}
		}
		return fmt.Sprintf("step %q %s", s.Name, orUnknown(s.Status))
	case len(j.Steps) > 0:
		return fmt.Sprintf("job %s, no step matching %q (yet)", orUnknown(j.Status), o.Step)
	}
	return "job " + orUnknown(j.Status)
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

// glob reports whether name matches pattern, where '*' matches any text
// (including '/') and '?' any one character; everything else stands for
// itself. Unlike path.Match, '/' and '[' are not special: job names hold
// both ("deploy / web [eu]").
func glob(pattern, name string) bool {
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
