package main

import "github.com/org/next-deploy/internal/cli"

// notYet is what a subcommand whose issue has not landed returns: it says
// so and exits 1; it never pretends to work.
func notYet(name string, issue int) error {
	return &cli.ErrNotImplemented{Command: name, Issue: issue}
}
