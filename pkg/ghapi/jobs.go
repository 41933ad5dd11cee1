package ghapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-github/v62/github"
)

// Run is one attempt of a workflow run: what GITHUB_REPOSITORY,
// GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT name.
type Run struct {
	Owner, Repo string
	ID          int64
	// Attempt is the run attempt (1 for the first); 0 means the latest.
	Attempt int64
}

func (r Run) String() string {
	s := fmt.Sprintf("run %d of %s/%s", r.ID, r.Owner, r.Repo)
	if r.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", r.Attempt)
	}
	return s
}

// RunFromEnv reads the run a step belongs to from the Actions environment,
// reporting every missing or bad variable at once.
func RunFromEnv(getenv func(string) string) (Run, error) {
	var r Run
	var errs []error
	repo := getenv("GITHUB_REPOSITORY")
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		errs = append(errs, fmt.Errorf("GITHUB_REPOSITORY %q: want owner/repo (set by GitHub Actions)", repo))
	}
	r.Owner, r.Repo = owner, name
	id, err := strconv.ParseInt(getenv("GITHUB_RUN_ID"), 10, 64)
	if err != nil || id <= 0 {
		errs = append(errs, fmt.Errorf("GITHUB_RUN_ID %q: want the run's number (set by GitHub Actions)", getenv("GITHUB_RUN_ID")))
	}
	r.ID = id
	if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("GITHUB_RUN_ATTEMPT %q: want 1 or more", a))
		}
		r.Attempt = n
	}
	return r, errors.Join(errs...)
}

// Job is one job of a run, as far as a barrier cares.
type Job struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Status is queued, in_progress, completed, waiting, requested or
	// pending; Conclusion is set once completed (success, failure,
	// cancelled, skipped, timed_out, ...).
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
	Attempt    int64  `json:"attempt"`
	URL        string `json:"url,omitempty"`
	Steps      []Step `json:"steps,omitempty"`
}

// Step is one step of a job.
type Step struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
}

// perPage is the most the jobs API returns at once; maxPages bounds the
// listing (a matrix has at most 256 jobs; 50 attempts of it fit).
const (
	perPage  = 100
	maxPages = 200
)

// Jobs lists the jobs of run, every page, and keeps for each job name
// its newest attempt up to run.Attempt. Listing every attempt (filter=all)
// rather than one attempt's jobs keeps a "re-run failed jobs" attempt
// right: the jobs that delivered in attempt 1 and were not re-run count
// with their attempt-1 result, whatever the API lists under attempt 2.
func (c *Client) Jobs(ctx context.Context, run Run) ([]Job, error) {
	var all []Job
	opts := &github.ListWorkflowJobsOptions{Filter: "all", ListOptions: github.ListOptions{PerPage: perPage}}
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("list jobs of %s: more than %d pages", run, maxPages)
		}
		jobs, resp, err := c.gh.Actions.ListWorkflowJobs(ctx, run.Owner, run.Repo, run.ID, opts)
		if err != nil {
			return nil, fmt.Errorf("list jobs of %s: %w", run, explain(err, run))
		}
		for _, j := range jobs.Jobs {
			all = append(all, toJob(j))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return latest(all, run.Attempt), nil
}

func toJob(j *github.WorkflowJob) Job {
	out := Job{
		ID:         j.GetID(),
		Name:       j.GetName(),
		Status:     j.GetStatus(),
		Conclusion: j.GetConclusion(),
		Attempt:    j.GetRunAttempt(),
		URL:        j.GetHTMLURL(),
	}
	for _, s := range j.Steps {
		out.Steps = append(out.Steps, Step{Name: s.GetName(), Status: s.GetStatus(), Conclusion: s.GetConclusion()})
	}
	return out
}

// latest keeps, for each job name, the jobs of its newest attempt not
// after attempt (0: no bound), in listing order.
func latest(jobs []Job, attempt int64) []Job {
	newest := map[string]int64{}
	for _, j := range jobs {
		if attempt > 0 && j.Attempt > attempt {
			continue
		}
		if a, ok := newest[j.Name]; !ok || j.Attempt > a {
			newest[j.Name] = j.Attempt
		}
	}
	var out []Job
	for _, j := range jobs {
		if a, ok := newest[j.Name]; ok && j.Attempt == a {
			out = append(out, j)
		}
	}
	return out
}
