package hook

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// sink collects emitted lines; hosts emit from goroutines of their own.
type sink struct {
	mu    sync.Mutex
	lines []string
}

func (s *sink) emit(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
}

func (s *sink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

func TestLines(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	for _, tc := range []struct {
		name   string
		writes []string
		want   []string
		last   string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"h: a", "h: b"}, "b"},
		{"a line in pieces", []string{"mig", "rating", "...\ndone"}, []string{"h: migrating...", "h: done"}, "done"},
		{"CRLF and blank lines", []string{"one\r\n\n   \n"}, []string{"h: one", "h: ", "h:    "}, "one"},
		{"a line too long to wait for", []string{long, "\n"}, []string{"h: " + long[:maxLine], "h: xxxxxxxxxx"}, "xxxxxxxxxx"},
		{"a long line, whole", []string{long + "\n"}, []string{"h: " + long}, long},
		{"nothing", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sink
			l := NewLines("h: ", s.emit)
			for _, w := range tc.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			l.Close()
			if got := s.all(); !slices.Equal(got, tc.want) {
				t.Errorf("lines = %.200q, want %.200q", got, tc.want)
			}
			if got := l.Last(); got != tc.last {
				t.Errorf("Last = %.100q, want %.100q", got, tc.last)
			}
		})
	}
}

func TestVarsEnviron(t *testing.T) {
	v := Vars{Release: "v2", Previous: "v1", Env: "staging", Hosts: []string{"deploy@a:22", "deploy@b:22"}, Actor: "octocat"}
	want := []string{"NEXT_DEPLOY_RELEASE=v2", "NEXT_DEPLOY_PREVIOUS=v1", "NEXT_DEPLOY_ENV=staging",
		"NEXT_DEPLOY_HOSTS=deploy@a:22,deploy@b:22", "NEXT_DEPLOY_ACTOR=octocat"}
	if got := v.Environ(); !slices.Equal(got, want) {
		t.Errorf("before the deploy: %q, want %q", got, want)
	}
	v.Result, v.Duration = ResultFailed, 83*time.Second+600*time.Millisecond
	want = append(want, "NEXT_DEPLOY_RESULT=failed", "NEXT_DEPLOY_DURATION=84")
	if got := v.Environ(); !slices.Equal(got, want) {
		t.Errorf("after the deploy: %q, want %q", got, want)
	}
}

// A hook on a host runs in the folder given (~/ the login's home), with
// the variables as they are (never expanded: a value is data), the hook's
// name as $0, and its output line by line under the host and the hook.
func TestRunOn(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(home, "app dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var s sink
	h := Hook{Name: "before_activate", Run: `echo "$0 in $(pwd)"; printf '%s|' "$NEXT_DEPLOY_RELEASE" "$NEXT_DEPLOY_PREVIOUS" "$NEXT_DEPLOY_ENV" "$NEXT_DEPLOY_HOST"; echo; echo warn >&2`}
	v := Vars{Release: "v2", Previous: "", Env: "$(touch pwned) 'x", Host: "deploy@10.0.0.5:22"}
	if err := RunOn(context.Background(), remote.NewLocal(), "~/app dir", h, v, s.emit); err != nil {
		t.Fatal(err)
	}
	got := s.all()
	slices.Sort(got) // stdout and stderr are two streams
	want := []string{
		"local: before_activate: before_activate in " + dir,
		"local: before_activate: v2||$(touch pwned) 'x|deploy@10.0.0.5:22|",
		"local: before_activate: warn",
	}
	if !slices.Equal(got, want) {
		t.Errorf("output = %q,\nwant %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); !os.IsNotExist(err) {
		t.Error("a variable's value ran as a command")
	}
}

func TestRunOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  string
		run  string
		want string
	}{
		{"exit status", "", "echo migrating; echo 'relation users exists' >&2; exit 7", "before_activate on local: exit status 7: relation users exists"},
		{"no such folder", "/nonexistent/releases/v2", "true", "before_activate on local: exit status 1: next-deploy: cannot enter /nonexistent/releases/v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = t.TempDir()
			}
			err := RunOn(context.Background(), remote.NewLocal(), dir, Hook{Name: "before_activate", Run: tc.run}, Vars{}, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("RunOn = %v, want %q", err, tc.want)
			}
		})
	}
}

// A hook that outlives its timeout ends, and so does what it started in
// the background: its process group gets the signal.
func TestTimeoutEndsTheProcessGroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(h Hook) error
		want string
	}{
		{"on a host", func(h Hook) error {
			return RunOn(context.Background(), remote.NewLocal(), t.TempDir(), h, Vars{}, nil)
		}, "after_activate on local: timed out after 300ms"},
		{"on the runner", func(h Hook) error {
			return RunLocal(context.Background(), t.TempDir(), nil, h, Vars{}, nil)
		}, "after_activate on the runner: timed out after 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			h := Hook{Name: "after_activate", Run: "sleep 30 & echo $! > '" + pidFile + "'; wait", Timeout: 300 * time.Millisecond}
			start := time.Now()
			err := tc.run(h)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q...", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s to end after a 300ms timeout", d)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			for i := 0; syscall.Kill(pid, 0) == nil; i++ {
				if i == 50 {
					t.Fatalf("the hook's background sleep (pid %d) still runs", pid)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// A runner's hook gets the environment given (nothing of this process's
// own), the variables, the folder, and its output under its name.
func TestRunLocal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NEXT_DEPLOY_TEST_SECRET", "must not leak")
	var s sink
	h := Hook{Name: "post_deploy", Run: `echo "$(pwd) $NOTIFY_URL $NEXT_DEPLOY_RELEASE $NEXT_DEPLOY_RESULT $NEXT_DEPLOY_DURATION [${NEXT_DEPLOY_TEST_SECRET:-}]"`}
	v := Vars{Release: "v2", Result: ResultOK, Duration: 12 * time.Second}
	if err := RunLocal(context.Background(), dir, []string{"PATH=" + os.Getenv("PATH"), "NOTIFY_URL=https://chat/x"}, h, v, s.emit); err != nil {
		t.Fatal(err)
	}
	want := []string{"post_deploy: " + dir + " https://chat/x v2 ok 12 []"}
	if got := s.all(); !slices.Equal(got, want) {
		t.Errorf("output = %q, want %q", got, want)
	}
	err := RunLocal(context.Background(), dir, nil, Hook{Name: "pre_deploy", Run: "echo frozen >&2; exit 3"}, v, nil)
	if want := "pre_deploy on the runner: exit status 3: frozen"; err == nil || err.Error() != want {
		t.Errorf("failing hook: %v, want %q", err, want)
	}
}
