package pm2

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/org/next-deploy/pkg/remote"
)

// Issue 15 item 3: a Looker's looks come from one program that asks
// pm2's daemon (here the fake install's client modules); where it cannot,
// each look is StatusMemory (pm2 jlist).
func TestLookerAsksTheDaemonFromOneProgram(t *testing.T) {
	needNode(t)
	for _, c := range []struct {
		daemon bool
		want   string
	}{{true, daemonName}, {false, jlistName}} {
		t.Run(c.want, func(t *testing.T) {
			fakePM2Install(t, c.daemon)
			r := Runner{Root: t.TempDir(), Ecosystem: DefaultEcosystem}
			ctx := context.Background()
			l := r.Looker(ctx, remote.NewLocal())
			for i := range 3 {
				ps, err := l.Look(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := names(ps); len(got) != 1 || got[0] != c.want {
					t.Errorf("look %d lists %v, want [%s]", i, got, c.want)
				}
			}
			l.Close()
			<-l.done // the program ends with its stdin
		})
	}
}

// Issue 15 item 3: the looker saves the process list as pm2 save does
// (pm2's dump: each pm2_env without instances and pm_id, the dump before
// kept as .bak) over the connection it holds, and looks on after it;
// where it cannot ask the daemon it does not save (the caller runs pm2
// save).
func TestLookerSavesAsPM2Save(t *testing.T) {
	needNode(t)
	for _, c := range []struct {
		daemon bool
		want   string // dump.pm2 after the save
	}{
		{true, `[{"status":"online","exec_mode":"cluster_mode"}]`},
		{false, "old"},
	} {
		t.Run(fmt.Sprint("daemon=", c.daemon), func(t *testing.T) {
			fakePM2Install(t, c.daemon)
			dump := filepath.Join(os.Getenv("PM2_HOME"), "dump.pm2")
			if err := os.WriteFile(dump, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			l := Runner{Root: t.TempDir(), Ecosystem: DefaultEcosystem}.Looker(ctx, remote.NewLocal())
			defer l.Close()
			if got := l.Save(ctx); got != c.daemon {
				t.Errorf("Save = %v, want %v", got, c.daemon)
			}
			b, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(b, &got); err != nil {
				got = string(b)
			}
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				want = c.want
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("dump.pm2 = %s, want %s", b, c.want)
			}
			if bak, err := os.ReadFile(dump + ".bak"); c.daemon && (err != nil || string(bak) != "old") {
				t.Errorf("dump.pm2.bak = %q (%v), want the dump before", bak, err)
			}
			if ps, err := l.Look(ctx); err != nil || len(ps) != 1 {
				t.Errorf("look after the save: %v, %v; want one process", ps, err)
			}
		})
	}
}
