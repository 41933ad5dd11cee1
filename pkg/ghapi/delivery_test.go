package ghapi

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/barrier"
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
		if got := Glob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestMatchesReusableWorkflowNames(t *testing.T) {
	d := Delivery{Pattern: "deploy (*)"}
	for name, want := range map[string]bool{
		"deploy (a)":                  true,
		"production / deploy (a)":     true,
		"production / activate":       false,
		"deploy (a) / notify":         false,
		"outer / inner / deploy (eu)": true,
	} {
		if got := d.Matches(name); got != want {
			t.Errorf("Matches(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDeliveryStatus(t *testing.T) {
	d := Delivery{Pattern: "deploy (*)", Step: "deliver"}
	js := func(name, status, concl string, steps ...Step) Job {
		return Job{Name: name, Status: status, Conclusion: concl, Steps: steps}
	}
	step := func(name, status, concl string) Step { return Step{Name: name, Status: status, Conclusion: concl} }
	for _, tc := range []struct {
		name string
		d    Delivery
		jobs []Job
		want []barrier.Member
	}{
		{
			name: "deliver step succeeded while the job still runs",
			jobs: []Job{js("deploy (a)", "in_progress", "", step("checkout", "completed", "success"), step("deliver", "completed", "success"), step("barrier", "in_progress", ""))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Ready, Detail: `step "deliver" succeeded`}},
		},
		{
			name: "deliver step still running",
			jobs: []Job{js("deploy (a)", "in_progress", "", step("deliver", "in_progress", ""))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Waiting, Detail: `step "deliver" in_progress`}},
		},
		{
			name: "queued job",
			jobs: []Job{js("deploy (a)", "queued", "")},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Waiting, Detail: "job queued"}},
		},
		{
			name: "deliver step failed",
			jobs: []Job{js("deploy (a)", "in_progress", "", step("deliver", "completed", "failure"))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Failed, Detail: `step "deliver" concluded failure`}},
		},
		{
			name: "cancelled job",
			jobs: []Job{js("deploy (a)", "completed", "cancelled", step("deliver", "completed", "cancelled"))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Failed, Detail: `step "deliver" concluded cancelled`}},
		},
		{
			name: "job failed before its deliver step",
			jobs: []Job{js("deploy (a)", "completed", "failure", step("build", "completed", "failure"), step("deliver", "completed", "skipped"))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Failed, Detail: "job concluded failure"}},
		},
		{
			name: "a successful job counts even without a deliver step",
			jobs: []Job{js("deploy (a)", "completed", "success", step("upload", "completed", "success"))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Ready, Detail: "job succeeded"}},
		},
		{
			name: "a skipped job will never deliver",
			jobs: []Job{js("deploy (a)", "completed", "skipped")},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Failed, Detail: "job was skipped: it delivers nothing"}},
		},
		{
			name: "a running job without the step says so",
			jobs: []Job{js("deploy (a)", "in_progress", "", step("upload", "in_progress", ""))},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Waiting, Detail: `job in_progress, no step matching "deliver" (yet)`}},
		},
		{
			name: "other jobs are not members",
			jobs: []Job{js("build", "completed", "success"), js("deploy (a)", "completed", "success")},
			want: []barrier.Member{{Name: "deploy (a)", State: barrier.Ready, Detail: "job succeeded"}},
		},
		{
			name: "no job matches: the run's jobs are named",
			jobs: []Job{js("build", "completed", "success"), js("deploy-a", "queued", "")},
			want: []barrier.Member{{Name: `jobs matching "deploy (*)"`, State: barrier.Waiting, Detail: "no job matches yet; jobs of this run: build, deploy-a"}},
		},
		{
			name: "fewer jobs than expected",
			d:    Delivery{Pattern: "deploy (*)", Step: "deliver", Expect: 3},
			jobs: []Job{js("deploy (a)", "completed", "success"), js("deploy (b)", "completed", "success")},
			want: []barrier.Member{
				{Name: "deploy (a)", State: barrier.Ready, Detail: "job succeeded"},
				{Name: "deploy (b)", State: barrier.Ready, Detail: "job succeeded"},
				{Name: `jobs matching "deploy (*)"`, State: barrier.Waiting, Detail: "2 of 3 expected jobs exist"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dd := d
			if tc.d.Pattern != "" {
				dd = tc.d
			}
			got := dd.Status(tc.jobs).Members
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("members:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDeliveryValidate(t *testing.T) {
	for _, tc := range []struct {
		d    Delivery
		want []string // in the error; none: valid
	}{
		{Delivery{Pattern: "deploy (*)", Step: "deliver"}, nil},
		{Delivery{Pattern: " ", Step: "", Expect: -1}, []string{"pattern is empty", "step name is empty", "-1"}},
	} {
		err := tc.d.Validate()
		if len(tc.want) == 0 && err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", tc.d, err)
		}
		for _, m := range tc.want {
			if err == nil || !strings.Contains(err.Error(), m) {
				t.Errorf("Validate(%+v) = %v, want it to mention %q", tc.d, err, m)
			}
		}
	}
}

// fakeClock never sleeps: Sleep moves its time forward.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return ctx.Err()
}

// rounds answers the n-th listing with rounds[n-1]; the last one repeats.
func rounds(rs ...[]jobJSON) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		jobs := rs[min(n, len(rs))-1]
		writeJobs(w, len(jobs), jobs)
	}
}

func TestBarrierOverJobs(t *testing.T) {
	build := job(1, "build", "completed", "success")
	for _, tc := range []struct {
		name       string
		handler    func(w http.ResponseWriter, r *http.Request, n int)
		wantErr    error // errors.Is target; nil: success
		wantRounds int
		wantInMsg  []string
	}{
		{
			name: "jobs in progress, then delivered",
			handler: rounds(
				[]jobJSON{build, job(2, "deploy (a)", "in_progress", "", "deliver=in_progress"), job(3, "deploy (b)", "queued", "")},
				[]jobJSON{build, job(2, "deploy (a)", "in_progress", "", "deliver=completed/success", "barrier=in_progress"), job(3, "deploy (b)", "in_progress", "", "deliver=in_progress")},
				[]jobJSON{build, job(2, "deploy (a)", "in_progress", "", "deliver=completed/success", "barrier=in_progress"), job(3, "deploy (b)", "in_progress", "", "deliver=completed/success")},
			),
			wantRounds: 3,
		},
		{
			name: "a failed delivery stops the wait at once",
			handler: rounds(
				[]jobJSON{job(2, "deploy (a)", "in_progress", "", "deliver=in_progress"), job(3, "deploy (b)", "in_progress", "", "deliver=in_progress")},
				[]jobJSON{job(2, "deploy (a)", "in_progress", "", "deliver=completed/success"), job(3, "deploy (b)", "in_progress", "", "deliver=completed/failure")},
			),
			wantErr:    barrier.ErrFailed,
			wantRounds: 2,
			wantInMsg:  []string{"deploy (b)", `step "deliver" concluded failure`, "/job/3"},
		},
		{
			// The first round fails all 3 tries of the client (Max 2).
			name: "an API outage longer than the client's retries is retried next round",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n <= 3 {
					writeError(w, http.StatusBadGateway, "Server Error", nil)
					return
				}
				writeJobs(w, 1, []jobJSON{job(2, "deploy (a)", "completed", "success")})
			},
			wantRounds: 2,
		},
		{
			name: "a refused token stops the wait at once",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeError(w, http.StatusUnauthorized, "Bad credentials", nil)
			},
			wantErr:    &APIError{},
			wantRounds: 1,
			wantInMsg:  []string{"401", "actions: read"},
		},
		{
			name:       "never delivered: timeout names the job",
			handler:    rounds([]jobJSON{job(2, "deploy (a)", "completed", "success"), job(3, "deploy (b)", "queued", "")}),
			wantErr:    barrier.ErrTimeout,
			wantRounds: 7, // t=0,10,...,60s
			wantInMsg:  []string{"1 of 2 not ready: deploy (b) (job queued)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newFake(t, "", tc.handler)
			d := Delivery{Pattern: "deploy (*)", Step: "deliver"}
			st, err := barrier.Wait(context.Background(), c.Poll(testRun, d), barrier.Options{
				Interval: 10 * time.Second,
				Timeout:  time.Minute,
				Clock:    &fakeClock{},
			})
			var ae *APIError
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("Wait: %v, want success", err)
				}
			case errors.As(tc.wantErr, &ae):
				if !errors.As(err, &ae) {
					t.Fatalf("Wait error = %v, want an *APIError", err)
				}
			case !errors.Is(err, tc.wantErr):
				t.Fatalf("Wait error = %v, want one that is %v", err, tc.wantErr)
			}
			if got, want := st.Round, tc.wantRounds; got != want {
				t.Errorf("rounds = %d, want %d", got, want)
			}
			for _, m := range tc.wantInMsg {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not mention %q", err, m)
				}
			}
		})
	}
}
