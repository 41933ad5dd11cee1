package release

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc1234", true},
		{"v1.2.3", true},
		{"A_b-c.d", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".hidden", false},
		{"-rf", false},
		{"a/b", false},
		{"..", false},
		{"a b", false},
		{"a;rm", false},
		{"a\n", false},
	} {
		err := ValidID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidID(%q) error does not wrap ErrInvalid", tc.id)
		}
	}
}

func TestNewLayout(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"/app", "/app"},
		{"/srv/app/", "/srv/app"},
		{"/srv//app", "/srv/app"},
		{"~/app", "~/app"},
		{"~/a/./b", "~/a/b"},
		{"", ""},
		{"app", ""},
		{"/", ""},
		{"~/", ""},
		{"~", ""},
		{"~bob/app", ""},
		{"/srv/../etc", ""},
		{"/srv/app\n", ""},
		// Regression (issue 13): U+2028 or a newline in --path ran as
		// JavaScript when pm2 loaded the generated ecosystem.
		{"/srv/app\u2028x", ""},
		{"/srv/a b", ""},
		{"/srv/$(id)", ""},
		{"~/a'b", ""},
	} {
		l, err := NewLayout(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("NewLayout(%q) = %q, want an error", tc.in, l.Root)
			}
			continue
		}
		if err != nil || l.Root != tc.want {
			t.Errorf("NewLayout(%q) = %q, %v; want %q", tc.in, l.Root, err, tc.want)
		}
	}
}

// recorder is a fake host that records the commands it is asked to run.
type recorder struct {
	remote.Local
	cmds []remote.Cmd
}

func (r *recorder) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	r.cmds = append(r.cmds, c)
	return &remote.Result{Stdout: []byte("ACQUIRED\n")}, nil
}

// Inputs reach the server only as arguments, never inside the script.
func TestOperationsPassInputsAsArguments(t *testing.T) {
	r := &recorder{}
	l := Layout{Root: "~/my app"}
	ctx := context.Background()
	if err := l.Switch(ctx, r, "abc1234"); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, r, Entry{Release: "abc1234", Who: "x'; rm -rf / #"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, r, "me", "", 1, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.cmds {
		if c.Args[0] != "~/my app" {
			t.Errorf("first argument = %q, want the deploy root", c.Args[0])
		}
		if strings.Contains(c.Script, "my app") || strings.Contains(c.Script, "abc1234") || strings.Contains(c.Script, "rm -rf /") {
			t.Errorf("script contains an input:\n%s", c.Script)
		}
	}
	want := append(append([]string{"~/my app"}, layoutNames...), "abc1234")
	if got := r.cmds[0].Args; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("switch args = %q, want %q", got, want)
	}
}

// newLocal gives a layout in a fresh directory on the local host.
func newLocal(t *testing.T) (Layout, string, remote.Host) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "deploy root")
	return Layout{Root: dir}, dir, remote.NewLocal()
}

// addRelease makes a release tree; complete ones get a manifest.
func addRelease(t *testing.T, root, id string, complete bool, at time.Time) {
	t.Helper()
	dir := filepath.Join(root, "releases", id)
	if err := os.MkdirAll(filepath.Join(dir, ".next-deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.js"), []byte("// "+id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !complete {
		return
	}
	m, _ := json.Marshal(Manifest{ID: id, SHA256: strings.Repeat("a", 64), Bytes: 10, Files: 1, Time: at})
	if err := os.WriteFile(filepath.Join(dir, ManifestPath), m, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureAndEmptyState(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	st, err := l.State(ctx, h)
	if err != nil {
		t.Fatalf("state of a missing root: %v", err)
	}
	if len(st.Releases) != 0 || st.Current != "" {
		t.Errorf("state of a missing root = %+v, want empty", st)
	}
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"releases", ".next-deploy"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
	// A real directory named current is refused: we would never replace it.
	if err := os.Mkdir(filepath.Join(root, "current"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.Ensure(ctx, h); err == nil || !strings.Contains(err.Error(), "not a symlink") {
		t.Errorf("Ensure with a directory as current = %v, want 'not a symlink'", err)
	}
}

func TestSwitchStateAndPrevious(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	addRelease(t, root, "bbb", true, t0)
	addRelease(t, root, "aaa", true, t0.Add(time.Hour))
	addRelease(t, root, "half", false, t0)
	if err := os.MkdirAll(filepath.Join(root, "releases", ".incoming-ccc-x1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.Switch(ctx, h, "half"); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("switch to an incomplete release = %v, want refused", err)
	}
	if err := l.Switch(ctx, h, "nope"); err == nil || !strings.Contains(err.Error(), "not on this host") {
		t.Errorf("switch to a missing release = %v, want refused", err)
	}
	for _, s := range []struct{ from, to string }{{"", "bbb"}, {"bbb", "aaa"}} {
		if err := l.Switch(ctx, h, s.to); err != nil {
			t.Fatal(err)
		}
		if err := l.Record(ctx, h, Entry{Action: "activate", Release: s.to, From: s.from}); err != nil {
			t.Fatal(err)
		}
	}
	target, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil || target != "releases/aaa" {
		t.Fatalf("current -> %q, %v; want relative releases/aaa", target, err)
	}
	st, err := l.State(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range st.Releases {
		ids = append(ids, r.ID)
	}
	// Newest delivery first; the incomplete one by its mtime (now).
	if got, want := strings.Join(ids, ","), "half,aaa,bbb"; got != want {
		t.Errorf("releases = %s, want %s", got, want)
	}
	if st.Current != "aaa" || st.Previous != "bbb" || st.Incoming != 1 {
		t.Errorf("current, previous, incoming = %q, %q, %d; want aaa, bbb, 1", st.Current, st.Previous, st.Incoming)
	}
	if r := st.Find("half"); r == nil || r.Complete {
		t.Errorf("half = %+v, want listed as incomplete", r)
	}
	if r := st.Find("aaa"); r == nil || !r.Current || !r.Complete || r.Manifest.SHA256 == "" || r.DiskBytes <= 0 {
		t.Errorf("aaa = %+v, want complete, current, with manifest and size", r)
	}
	// Rolling back to bbb marks aaa: previous is not aaa (a second
	// rollback must not go forward again) and nothing is older than bbb.
	if err := l.Switch(ctx, h, "bbb"); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, h, Entry{Action: "rollback", Release: "bbb", From: "aaa"}); err != nil {
		t.Fatal(err)
	}
	if st, err = l.State(ctx, h); err != nil || st.Current != "bbb" || st.Previous != "" {
		t.Errorf("after rollback: current %q previous %q (%v); want bbb and none", st.Current, st.Previous, err)
	}
	if r := st.Find("aaa"); r == nil || !r.RolledBack {
		t.Errorf("aaa = %+v, want marked rolled back", r)
	}
}

func TestPrevious(t *testing.T) {
	has := func(ids ...string) func(string) bool {
		return func(id string) bool { return slices.Contains(ids, id) }
	}
	act := func(from, to string) Entry { return Entry{Action: ActionActivate, From: from, Release: to} }
	back := func(from, to string) Entry { return Entry{Action: ActionRollback, From: from, Release: to} }
	all := has("r1", "r2", "r3", "r4", "x")
	chain := []Entry{act("", "r1"), act("r1", "r2"), act("r2", "r3")}
	for _, tc := range []struct {
		name    string
		history []Entry
		current string
		has     func(string) bool
		want    string
	}{
		{"the release before current", chain, "r3", all, "r2"},
		{"pruned: walk further back", chain, "r3", has("r1", "r3"), "r1"},
		{"nothing else held", chain, "r3", has("r3"), ""},
		{"current not in history: the newest", chain, "x", all, "r3"},
		{"no action field: an activate", []Entry{{Release: "a"}, {Release: "b", From: "a"}}, "b", has("a", "b"), "a"},
		{"current before the history began", []Entry{act("old", "r1")}, "r1", has("old", "r1"), "old"},
		// Regression (issue 13): a second rollback re-activated the
		// release the first one left (r2 -> r1, rollback again -> r2).
		{"after one rollback: further back", append(chain, back("r3", "r2")), "r2", all, "r1"},
		{"after two rollbacks: nothing older", append(chain, back("r3", "r2"), back("r2", "r1")), "r1", all, ""},
		{"rollback --to an old one: never forward", append(chain, back("r3", "r1")), "r1", all, ""},
		{"a failed rollout went back: the failed one is marked", append(chain, act("r3", "r4"), back("r4", "r3")), "r3", all, "r2"},
		{"activate again after rollbacks", append(chain, back("r3", "r2"), back("r2", "r1"), act("r1", "r4")), "r4", all, "r1"},
		{"re-activating a marked release clears its mark", append(chain, back("r3", "r2"), act("r2", "r3")), "r3", all, "r2"},
	} {
		if got := Previous(tc.history, tc.current, tc.has); got != tc.want {
			t.Errorf("%s: previous = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRolledBack(t *testing.T) {
	h := []Entry{
		{Action: ActionActivate, Release: "r1"}, {Action: ActionActivate, From: "r1", Release: "r2"},
		{Action: ActionActivate, From: "r2", Release: "r3"}, {Action: ActionRollback, From: "r3", Release: "r2"},
		{Action: ActionRollback, From: "r2", Release: "r1"}, {Action: ActionRollback, From: "r1", Release: "r3"},
	}
	got := RolledBack(h)
	if !got["r2"] || !got["r1"] || got["r3"] || len(got) != 2 {
		t.Errorf("RolledBack = %v, want r1 and r2 (r3 was chosen again by rollback --to)", got)
	}
}

func TestLock(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	k, err := l.Acquire(ctx, h, "alice@laptop", "https://ci/run/1", 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Acquire(ctx, h, "bob@laptop", "", 43, 0)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.Who != "alice@laptop" || le.Holder.Run != "https://ci/run/1" {
		t.Fatalf("second Acquire = %v, want LockedError naming alice", err)
	}
	if !strings.Contains(err.Error(), "local") || !strings.Contains(err.Error(), "--break-lock-after") {
		t.Errorf("locked message %q should name the host and the way out", err)
	}
	// A young lock is not broken, however the flag is set.
	if _, err := l.Acquire(ctx, h, "bob", "", 43, time.Hour); !errors.As(err, &le) {
		t.Fatalf("Acquire with a young lock and breakAfter = %v, want LockedError", err)
	}
	// Unlock works on a cancelled context: what SIGTERM leaves us with.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := k.Unlock(cctx); err != nil {
		t.Fatalf("Unlock on a cancelled context: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, ".next-deploy", "lock")); !os.IsNotExist(err) {
		t.Errorf("lock still there after Unlock: %v", err)
	}
	k2, err := l.Acquire(ctx, h, "bob", "", 43, 0)
	if err != nil {
		t.Fatalf("Acquire after Unlock: %v", err)
	}
	// Someone else's unlock does not remove it.
	if err := k.Unlock(ctx); err == nil {
		t.Error("alice's stale token removed bob's lock")
	}
	// A stale lock (by the server clock) is broken when asked.
	ageLock(t, root, time.Now().Add(-2*time.Hour), k2.Holder.Since)
	k3, err := l.Acquire(ctx, h, "carol", "", 44, time.Hour)
	if err != nil {
		t.Fatalf("Acquire breaking a 2h-old lock: %v", err)
	}
	if k3.Holder.Who != "carol" {
		t.Errorf("holder = %q", k3.Holder.Who)
	}
}
