package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// scripts are the embedded files by name, as scripts/ holds them.
var scripts = map[string]string{
	"prelude.sh":          prelude,
	"ensure.sh":           ensureScript,
	"switch.sh":           switchScript,
	"record.sh":           recordScript,
	"state.sh":            stateScript,
	"lock-aside.sh":       lockAside,
	"lock.sh":             lockMain,
	"unlock.sh":           unlockMain,
	"inuse.sh":            inUseScript,
	"remove.sh":           removeScript,
	"lease.sh":            leaseFns,
	"clean.sh":            cleanMain,
	"preflight.sh":        preflightMain,
	"base.sh":             baseFns,
	"receive-unpack.sh":   receiveUnpack,
	"receive-assemble.sh": receiveAssemble,
	"receive-verify.sh":   receiveVerify,
	"receive-shared.sh":   receiveShared,
	"receive.sh":          receiveMain,
}

// Every file in scripts/ is embedded (test/run.sh lints what ships) and
// none is empty. shellcheck itself runs in test/run.sh.
func TestScriptsAreEmbedded(t *testing.T) {
	des, err := os.ReadDir("scripts")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, de := range des {
		files = append(files, de.Name())
	}
	var names []string
	for name, text := range scripts {
		names = append(names, name)
		if strings.TrimSpace(text) == "" {
			t.Errorf("scripts/%s is empty", name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(files, names) {
		t.Errorf("scripts/ holds %q, embedded are %q", files, names)
	}
}

// Regression guard: the layout's names and the short hash length are
// spelled in Go only and reach the scripts as arguments.
func TestScriptsSpellNoLayoutName(t *testing.T) {
	for name, text := range scripts {
		for n, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, lit := range []string{StateDir, "release.json", "files.tsv", HistoryFile, IncomingPfx, removingPfx, "substr($5, 1, 8)"} {
				if strings.Contains(line, lit) {
					t.Errorf("scripts/%s:%d spells %q: pass it as an argument\n%s", name, n+1, lit, line)
				}
			}
		}
	}
}

// answering is a fake host that records the commands it is asked to run
// and answers each with the same stdout.
type answering struct {
	remote.Local
	answer string
	cmds   []remote.Cmd
}

func (a *answering) Run(ctx context.Context, c remote.Cmd) (*remote.Result, error) {
	a.cmds = append(a.cmds, c)
	return &remote.Result{Stdout: []byte(a.answer)}, nil
}

// The commands are data: the embedded files after the prelude, and the
// arguments in the order the scripts read them.
func TestCommands(t *testing.T) {
	l := Layout{Root: "/app"}
	names := []string{"/app", "releases", "current", ".next-deploy", ".next-deploy/release.json", ".next-deploy/files.tsv", "history.jsonl", "lock", ".incoming-", ".removing-", "lease", "heartbeat", "shared"}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		answer string
		run    func(h remote.Host) error
		script string
		args   []string
	}{
		{"ensure", "", func(h remote.Host) error { return l.Ensure(ctx, h) }, ensureScript, nil},
		{"switch", "", func(h remote.Host) error { return l.Switch(ctx, h, "v2") }, switchScript, []string{"v2"}},
		{"state", "N\n", func(h remote.Host) error { _, err := l.State(ctx, h); return err }, stateScript, nil},
		{"in use", "", func(h remote.Host) error { _, err := l.InUse(ctx, h); return err }, inUseScript, nil},
		{"remove", "", func(h remote.Host) error { return l.Remove(ctx, h, []string{"v0", "v1"}) }, removeScript, []string{"v0", "v1"}},
		{"clean", "0\n", func(h remote.Host) error { _, err := l.CleanStale(ctx, h, 90*time.Minute); return err }, cleanScript, []string{"5400"}},
		{"preflight", "", func(h remote.Host) error { _, err := l.Preflight(ctx, h, "v2", "zst", time.Hour, nil); return err }, preflightScript, []string{"v2", "zstd", "3600", ""}},
		{"preflight of a delta", "", func(h remote.Host) error {
			_, err := l.PreflightDelta(ctx, h, "v2", "zst", time.Hour, nil)
			return err
		}, preflightScript, []string{"v2", "zstd", "3600", "6"}},
		{"preflight with shared", "", func(h remote.Host) error {
			_, err := l.Preflight(ctx, h, "v2", "gz", time.Hour, []string{".env.production", "public/uploads/"})
			return err
		}, preflightScript, []string{"v2", "gzip", "3600", "", ".env.production", "public/uploads/"}},
		{"receive", "DELIVERED\t0\t0\n", func(h remote.Host) error {
			u := Upload{Manifest: Manifest{ID: "v2", AppDir: "web"}, Format: "gz", Payload: strings.NewReader(""), PayloadSHA256: "s"}
			_, err := l.Receive(ctx, h, u)
			return err
		}, receiveScript, []string{"full", "v2", "s", "gzip", "", "web", "", `{"id":"v2","sha256":"","bytes":0,"files":0,"app_dir":"web","time":"0001-01-01T00:00:00Z"}`,
			"payload", "files.tsv.gz", "edit.gz", "derive.gz"}},
		{"receive with shared", "DELIVERED\t0\t0\n", func(h remote.Host) error {
			u := Upload{Manifest: Manifest{ID: "v2", AppDir: "apps/web", Shared: []string{".env.production", "public/uploads/"}},
				Format: "gz", Payload: strings.NewReader(""), PayloadSHA256: "s"}
			_, err := l.Receive(ctx, h, u)
			return err
		}, receiveScript, []string{"full", "v2", "s", "gzip", "", "apps/web", "",
			`{"id":"v2","sha256":"","bytes":0,"files":0,"app_dir":"apps/web","time":"0001-01-01T00:00:00Z","shared":[".env.production","public/uploads/"]}`,
			"payload", "files.tsv.gz", "edit.gz", "derive.gz",
			"apps/web/.env.production", "../../../../shared/.env.production",
			"apps/web/public/uploads", "../../../../../shared/public/uploads"}},
		{"unlock", "", func(h remote.Host) error {
			k := &Lock{layout: l, host: h, Holder: Holder{Token: "t0k"}, sum: "5u11"}
			return k.Unlock(ctx)
		}, unlockScript, []string{"t0k", "5u11", "info"}},
	} {
		h := &answering{answer: tc.answer}
		if err := tc.run(h); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(h.cmds) != 1 {
			t.Errorf("%s: ran %d commands, want 1", tc.name, len(h.cmds))
			continue
		}
		got := h.cmds[0]
		if got.Script != compact(prelude+tc.script) {
			t.Errorf("%s: script is not prelude.sh and its own file", tc.name)
		}
		if want := append(slices.Clone(names), tc.args...); !slices.Equal(got.Args, want) {
			t.Errorf("%s: args = %q,\nwant %q", tc.name, got.Args, want)
		}
	}
}

// The receive command is its pieces, the functions before the main part;
// clean and preflight are theirs after lease.sh (preflight after base.sh too).
func TestReceiveScriptIsItsPieces(t *testing.T) {
	if got, want := receiveScript, leaseFns+receiveUnpack+receiveAssemble+receiveVerify+receiveShared+receiveMain; got != want {
		t.Error("receiveScript is not lease, unpack, assemble, verify, shared, then receive.sh")
	}
	if cleanScript != leaseFns+cleanMain || preflightScript != leaseFns+baseFns+preflightMain {
		t.Error("clean.sh or preflight.sh does not come after lease.sh (and base.sh)")
	}
	for fn, piece := range map[string]string{"unpack_start": receiveUnpack, "unpack_wait": receiveUnpack, "assemble_plan": receiveAssemble, "assemble": receiveAssemble, "verify": receiveVerify, "lease_take": leaseFns,
		"shared_paths": receiveShared, "link_shared": receiveShared} {
		calls := regexp.MustCompile(`(?m)^\s*` + fn + ` "`)
		if !strings.HasPrefix(piece, "#") || !strings.Contains(piece, "\n"+fn+"() {") || !calls.MatchString(receiveMain) {
			t.Errorf("receive.sh does not call %s as its piece defines it", fn)
		}
	}
}

func TestLockCommands(t *testing.T) {
	h := &answering{answer: "ACQUIRED\n"}
	l := Layout{Root: "/app"}
	k, err := l.Acquire(context.Background(), h, "me", "run", 7, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := h.cmds[0]
	if c.Script != compact(prelude+lockAside+lockMain) {
		t.Error("lock: script is not prelude.sh, lock-aside.sh and lock.sh")
	}
	args := c.Args[len(layoutNames)+1:]
	var got Holder
	if len(args) != 4 || json.Unmarshal([]byte(args[0]), &got) != nil || got.Token != k.Holder.Token || !got.Since.Equal(k.Holder.Since) ||
		args[1] != lockInfo || args[2] != lockSince || args[3] != "" {
		t.Errorf("lock args = %q, want the holder's info, %q, %q and no stale lock", args, lockInfo, lockSince)
	}
}

// A stale lock is broken by the sha256 of its info, the one lock.sh
// answered with: the next lock.sh gets it, and breaks only that lock.
func TestBreakNamesTheLockJudged(t *testing.T) {
	h := &answering{answer: "HELD\t10000\t1000\tabc123\t\n"}
	l := Layout{Root: "/app"}
	_, err := l.Acquire(context.Background(), h, "me", "", 7, time.Hour)
	var le *LockedError
	if !errors.As(err, &le) || le.Age != 9000*time.Second {
		t.Fatalf("Acquire = %v, want a LockedError of age 9000s (the server's times)", err)
	}
	if len(h.cmds) != 3 {
		t.Fatalf("ran %d commands, want 3 (take, break, break once more)", len(h.cmds))
	}
	for i, want := range []string{"", "abc123", "abc123"} {
		if got := h.cmds[i].Args[len(h.cmds[i].Args)-1]; got != want {
			t.Errorf("command %d: stale lock %q, want %q", i, got, want)
		}
	}
}

// unlock.sh finds our lock by the sha256 of the info lock.sh wrote, as
// Lock keeps it.
func TestLockSumIsTheInfosOnDisk(t *testing.T) {
	l, root, h := newLocal(t)
	k, err := l.Acquire(context.Background(), h, "me", "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, StateDir, LockDir, lockInfo))
	if err != nil {
		t.Fatal(err)
	}
	if s := sha256.Sum256(b); hex.EncodeToString(s[:]) != k.sum {
		t.Errorf("Lock.sum = %s, the info on disk has %x", k.sum, s)
	}
}
