package pm2

import (
	"context"
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
