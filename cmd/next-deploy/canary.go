package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/activate"
	"github.com/org/next-deploy/pkg/clock"
)

// canaryFlags are activate's --canary and --canary-time.
type canaryFlags struct {
	hosts int
	time  time.Duration
}

func (c *canaryFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&c.hosts, "canary", 0, "switch this many hosts first and watch them for --canary-time (health gate, worker restarts, 5xx answers counted by the app's workers) before the rest; a bad canary goes back and no other host is touched (0: off)")
	fs.DurationVar(&c.time, "canary-time", time.Minute, "how long the --canary hosts are watched")
}

// check adds the flags' problems to errs.
func (c *canaryFlags) check(errs []error) []error {
	if c.hosts < 0 {
		errs = append(errs, fmt.Errorf("--canary %d: want 0 (off) or a number of hosts", c.hosts))
	}
	if c.hosts > 0 && c.time <= 0 {
		errs = append(errs, fmt.Errorf("--canary-time %s: want more than 0", clock.Format(c.time)))
	}
	return errs
}

func (c *canaryFlags) options() activate.Canary {
	return activate.Canary{Hosts: c.hosts, Time: c.time}
}
