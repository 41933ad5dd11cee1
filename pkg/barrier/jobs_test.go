package barrier

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/clock"
	"github.com/org/next-deploy/pkg/ghapi"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"deploy (*)", "deploy (a)", true},
		{"deploy (*)", "deploy (web/eu-1)", true}, // '*' crosses '/'
		{"deploy (*)", "deploy", false},
		{"deploy (*)", "deploy (a) extra", false},
		{"deploy (?)", "deploy (a)", true},
		{"deploy (?)", "deploy (ab)", false},
		{"deliver", "deliver", true},
		{"deliver", "Deliver", false},
		{"*", "", true},
		{"*", "*x", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"web [eu]", "web [eu]", true}, // '[' is literal
		{"web [eu]", "web e", false},
		{"", "", true},
		{"", "x", false},
	} {
		if got := glob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestMatchesReusableWorkflowNames(t *testing.T) {
	o := JobsOptions{Pattern: "deploy (*)"}
	for name, want := range map[string]bool{
		"deploy (a)":                  true,
		"production / deploy (a)":     true,
		"production / activate":       false,
		"deploy (a) / notify":         false,
		"outer / inner / deploy (eu)": true,
	} {
		if got := o.matches(name); got != want {
			t.Errorf("matches(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestJobsStatus(t *testing.T) {
	o := JobsOptions{Pattern: "deploy (*)", Step: "deliver"}
	js := func(name, status, concl string, steps ...ghapi.Step) ghapi.Job {
		return ghapi.Job{Name: name, Status: status, Conclusion: concl, Steps: steps}
	}
	step := func(name, status, concl string) ghapi.Step {
		return ghapi.Step{Name: name, Status: status, Conclusion: concl}
	}
	for _, tc := range []struct {
		name string
		o    JobsOptions
		jobs []ghapi.Job
		want []Member
	}{
		{
			name: "deliver step succeeded while the job still runs",
			jobs: []ghapi.Job{js("deploy (a)", "in_progress", "", step("checkout", "completed", "success"), step("deliver", "completed", "success"), step("barrier", "in_progress", ""))},
			want: []Member{{Name: "deploy (a)", State: Ready, Detail: `step "deliver" succeeded`}},
		},
		{
			name: "deliver step still running",
			jobs: []ghapi.Job{js("deploy (a)", "in_progress", "", step("deliver", "in_progress", ""))},
			want: []Member{{Name: "deploy (a)", State: Waiting, Detail: `step "deliver" in_progress`}},
		},
		{
			name: "queued job",
			jobs: []ghapi.Job{js("deploy (a)", "queued", "")},
			want: []Member{{Name: "deploy (a)", State: Waiting, Detail: "job queued"}},
		},
		{
			name: "deliver step failed",
			jobs: []ghapi.Job{js("deploy (a)", "in_progress", "", step("deliver", "completed", "failure"))},
			want: []Member{{Name: "deploy (a)", State: Failed, Detail: `step "deliver" concluded failure`}},
		},
		{
			name: "cancelled job",
			jobs: []ghapi.Job{js("deploy (a)", "completed", "cancelled", step("deliver", "completed", "cancelled"))},
			want: []Member{{Name: "deploy (a)", State: Failed, Detail: `step "deliver" concluded cancelled`}},
		},
		{
			name: "job failed before its deliver step",
			jobs: []ghapi.Job{js("deploy (a)", "completed", "failure", step("build", "completed", "failure"), step("deliver", "completed", "skipped"))},
			want: []Member{{Name: "deploy (a)", State: Failed, Detail: "job concluded failure"}},
		},
		{
			name: "a successful job counts even without a deliver step",
			jobs: []ghapi.Job{js("deploy (a)", "completed", "success", step("upload", "completed", "success"))},
			want: []Member{{Name: "deploy (a)", State: Ready, Detail: "job succeeded"}},
		},
		{
			name: "a skipped job will never deliver",
			jobs: []ghapi.Job{js("deploy (a)", "completed", "skipped")},
			want: []Member{{Name: "deploy (a)", State: Failed, Detail: "job was skipped: it delivers nothing"}},
		},
		{
			name: "a running job without the step says so",
			jobs: []ghapi.Job{js("deploy (a)", "in_progress", "", step("upload", "in_progress", ""))},
			want: []Member{{Name: "deploy (a)", State: Waiting, Detail: `job in_progress, no step matching "deliver" (yet)`}},
		},
		{
			name: "other jobs are not members",
			jobs: []ghapi.Job{js("build", "completed", "success"), js("deploy (a)", "completed", "success")},
			want: []Member{{Name: "deploy (a)", State: Ready, Detail: "job succeeded"}},
		},
		{
			name: "no job matches: the run's jobs are named",
			jobs: []ghapi.Job{js("build", "completed", "success"), js("deploy-a", "queued", "")},
			want: []Member{{Name: `jobs matching "deploy (*)"`, State: Waiting, Detail: "no job matches yet; jobs of this run: build, deploy-a"}},
		},
		{
			name: "fewer jobs than expected",
			o:    JobsOptions{Pattern: "deploy (*)", Step: "deliver", Expect: 3},
			jobs: []ghapi.Job{js("deploy (a)", "completed", "success"), js("deploy (b)", "completed", "success")},
			want: []Member{
				{Name: "deploy (a)", State: Ready, Detail: "job succeeded"},
				{Name: "deploy (b)", State: Ready, Detail: "job succeeded"},
				{Name: `jobs matching "deploy (*)"`, State: Waiting, Detail: "2 of 3 expected jobs exist"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oo := o
			if tc.o.Pattern != "" {
				oo = tc.o
			}
			got := oo.status(tc.jobs).Members
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("members:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestJobsOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    JobsOptions
		want []string // in the error; none: valid
	}{
		{JobsOptions{Pattern: "deploy (*)", Step: "deliver"}, nil},
		{JobsOptions{Pattern: " ", Step: "", Expect: -1}, []string{"pattern is empty", "step name is empty", "-1"}},
	} {
		err := tc.o.Validate()
		if len(tc.want) == 0 && err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", tc.o, err)
		}
		for _, m := range tc.want {
			if err == nil || !strings.Contains(err.Error(), m) {
				t.Errorf("Validate(%+v) = %v, want it to mention %q", tc.o, err, m)
			}
		}
	}
}

// fakeLister answers the n-th listing with rounds[n-1]; the last one
// repeats. It records the runs it was asked about.
type fakeLister struct {
	rounds []listing
	runs   []ghapi.Run
}

type listing struct {
	jobs []ghapi.Job
	err  error
}

func (f *fakeLister) Jobs(_ context.Context, run ghapi.Run) ([]ghapi.Job, error) {
	f.runs = append(f.runs, run)
	l := f.rounds[min(len(f.runs), len(f.rounds))-1]
	return l.jobs, l.err
}

// job is a job as ghapi lists it; steps are "name=status/conclusion".
func job(id int64, name, status, conclusion string, steps ...string) ghapi.Job {
	j := ghapi.Job{ID: id, Name: name, Status: status, Conclusion: conclusion, Attempt: 1,
		URL: fmt.Sprintf("https://github.com/acme/shop/actions/runs/42/job/%d", id)}
	for _, s := range steps {
		n, sc, _ := strings.Cut(s, "=")
		st, c, _ := strings.Cut(sc, "/")
		j.Steps = append(j.Steps, ghapi.Step{Name: n, Status: st, Conclusion: c})
	}
	return j
}

func jobs(js ...ghapi.Job) listing { return listing{jobs: js} }

var testRun = ghapi.Run{Owner: "acme", Repo: "shop", ID: 42, Attempt: 1}

func TestJobsWait(t *testing.T) {
	build := job(1, "build", "completed", "success")
	refused := &ghapi.APIError{StatusCode: 401, Message: "Bad credentials", Hint: "the workflow token needs `actions: read`"}
	for _, tc := range []struct {
		name       string
		rounds     []listing
		expect     int
		wantErr    error // errors.Is target; nil: success
		wantRounds int
		wantInMsg  []string
		wantSaid   []string
	}{
		{
			name: "jobs in progress, then delivered",
			rounds: []listing{
				jobs(build, job(2, "deploy (a)", "in_progress", "", "deliver=in_progress"), job(3, "deploy (b)", "queued", "")),
				jobs(build, job(2, "deploy (a)", "in_progress", "", "deliver=completed/success", "barrier=in_progress"), job(3, "deploy (b)", "in_progress", "", "deliver=in_progress")),
				jobs(build, job(2, "deploy (a)", "in_progress", "", "deliver=completed/success", "barrier=in_progress"), job(3, "deploy (b)", "in_progress", "", "deliver=completed/success")),
			},
			wantRounds: 3,
			wantSaid: []string{
				`[0s] waiting for 2 of 2 jobs: deploy (a) (step "deliver" in_progress), deploy (b) (job queued)`,
				`[10s] waiting for 1 of 2 jobs: deploy (b) (step "deliver" in_progress)`,
			},
		},
		{
			name: "one delivered, one queued, as many as expected",
			rounds: []listing{
				jobs(build, job(2, "deploy (a)", "in_progress", "", "deliver=completed/success"), job(3, "deploy (b)", "queued", "")),
				jobs(build, job(2, "deploy (a)", "in_progress", "", "deliver=completed/success"), job(3, "deploy (b)", "in_progress", "", "deliver=completed/success")),
			},
			expect:     2,
			wantRounds: 2,
			wantSaid:   []string{"[0s] waiting for 1 of 2 jobs: deploy (b) (job queued)"},
		},
		{
			name: "a failed delivery stops the wait at once",
			rounds: []listing{
				jobs(job(2, "deploy (a)", "in_progress", "", "deliver=in_progress"), job(3, "deploy (b)", "in_progress", "", "deliver=in_progress")),
				jobs(job(2, "deploy (a)", "in_progress", "", "deliver=completed/success"), job(3, "deploy (b)", "in_progress", "", "deliver=completed/failure")),
			},
			wantErr:    ErrFailed,
			wantRounds: 2,
			wantInMsg:  []string{`not every job matching "deploy (*)" delivered`, "deploy (b)", `step "deliver" concluded failure`, "/job/3", "re-run the failed jobs"},
		},
		{
			// ghapi.Client returns a 5xx once its own retries are spent.
			name:       "an API outage longer than the client's retries is retried next round",
			rounds:     []listing{{err: &ghapi.APIError{StatusCode: 502, Message: "Server Error"}}, jobs(job(2, "deploy (a)", "completed", "success"))},
			wantRounds: 2,
			wantSaid:   []string{"[0s] look 1 failed, retrying: github api: 502 Server Error"},
		},
		{
			name:       "a refused token stops the wait at once",
			rounds:     []listing{{err: fmt.Errorf("list jobs of %s: %w", testRun, refused)}},
			wantErr:    refused,
			wantRounds: 1,
			wantInMsg:  []string{"401", "actions: read"},
		},
		{
			name:       "never delivered: timeout names the job",
			rounds:     []listing{jobs(job(2, "deploy (a)", "completed", "success"), job(3, "deploy (b)", "queued", ""))},
			wantErr:    ErrTimeout,
			wantRounds: 7, // t=0,10,...,60s
			wantInMsg:  []string{"1 of 2 not ready: deploy (b) (job queued)", "check that --jobs and --step match"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLister{rounds: tc.rounds}
			p := Jobs(JobsOptions{Client: f, Run: testRun, Pattern: "deploy (*)", Step: "deliver", Expect: tc.expect})
			var said []string
			st, err := Wait(context.Background(), p, Options{
				Interval: 10 * time.Second,
				Timeout:  time.Minute,
				Clock:    clock.NewFake(time.Unix(1_700_000_000, 0)),
				Say:      func(line string) { said = append(said, line) },
			})
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Wait: %v, want success", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Wait error = %v, want one that is %v", err, tc.wantErr)
			}
			if got, want := st.Round, tc.wantRounds; got != want {
				t.Errorf("rounds = %d, want %d", got, want)
			}
			if got, want := len(f.runs), tc.wantRounds; got != want {
				t.Errorf("%d listings, want %d", got, want)
			}
			for _, m := range tc.wantInMsg {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not mention %q", err, m)
				}
			}
			if tc.wantSaid != nil && !reflect.DeepEqual(said, tc.wantSaid) {
				t.Errorf("progress lines:\n got %q\nwant %q", said, tc.wantSaid)
			}
		})
	}
}

func TestJobsPlanNamesTheRun(t *testing.T) {
	f := &fakeLister{rounds: []listing{jobs(job(2, "deploy (a)", "completed", "success"))}}
	p := Jobs(JobsOptions{Client: f, Run: testRun, Pattern: "deploy (*)", Step: "deliver"})
	if got, want := p.Title, `jobs matching "deploy (*)" in run 42 of acme/shop (attempt 1)`; got != want {
		t.Errorf("Title = %q, want %q", got, want)
	}
	st, err := Wait(context.Background(), p, Options{Timeout: time.Minute, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.runs, []ghapi.Run{testRun}) {
		t.Errorf("listed %v, want %v", f.runs, testRun)
	}
	want := []Member{{Name: "deploy (a)", State: Ready, Detail: "job succeeded"}}
	if !reflect.DeepEqual(st.Members, want) {
		t.Errorf("members:\n got %+v\nwant %+v", st.Members, want)
	}
}
