package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/org/next-deploy/internal/cli"
	"github.com/org/next-deploy/pkg/activate"
)

// skewFlags are skew protection's flags (docs/skew.md): all of them on
// activate, --skew-keep on rollback (which starts no kept app but tidies
// them).
type skewFlags struct {
	window    time.Duration
	keep      int
	instances int
}

func (s *skewFlags) register(fs *flag.FlagSet, activating bool) {
	if activating {
		fs.DurationVar(&s.window, "skew-window", 15*time.Minute, "skew protection: the release this activation replaces keeps serving the tabs opened on it (their Server Actions, navigations) this long, as a pm2 app of its own per host, routed to by nginx (config nginx) on the X-Deployment-Id Next sends; 0 turns it off")
		fs.IntVar(&s.instances, "skew-instances", 1, "skew protection: workers of a kept release's pm2 app")
	}
	fs.IntVar(&s.keep, "skew-keep", 1, "skew protection: at most this many older releases kept serving per host, the newest ones")
}

// options are the flags as activate.Skew; warnings go to env.
func (s *skewFlags) options(env *cli.Env, app string) activate.Skew {
	o := activate.Skew{Window: s.window, Keep: s.keep, Instances: max(s.instances, 1), App: app,
		Warn: func(host string, err error) { env.Warnf("%s: %v", host, err) },
		Progress: func(host, format string, a ...any) {
			env.Progressf("%s: "+format, append([]any{host}, a...)...)
		},
	}
	return o
}

// check reports bad skew flags.
func (s *skewFlags) check() error {
	if err := (activate.Skew{Window: s.window, Keep: s.keep, Instances: max(s.instances, 1)}).Check(); err != nil {
		return fmt.Errorf("--skew-*: %w", err)
	}
	return nil
}
