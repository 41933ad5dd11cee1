// Command next-deploy ships a Next.js standalone build to a fleet of
// servers: build, pack, deliver, activate, roll back and prune. Each
// subcommand is also a GitHub Action step.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/org/next-deploy/internal/cli"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	status := run(ctx, cli.OSEnv(version), os.Args[1:])
	stop()
	os.Exit(status)
}

func run(ctx context.Context, env *cli.Env, args []string) int {
	return newApp().Main(ctx, env, args)
}

func newApp() *cli.App {
	return &cli.App{
		Name: "next-deploy",
		Commands: []cli.Command{
			&initCmd{},
			&buildCmd{},
			&postbuildCmd{},
			&packCmd{},
			&deliverCmd{},
			&barrierCmd{},
			&activateCmd{},
			&pruneCmd{},
			&rollbackCmd{},
			&releasesCmd{},
			&statusCmd{},
			&heapSnapshotCmd{},
			&configCmd{},
			&demoCmd{},
			&versionCmd{},
			&completionCmd{},
		},
	}
}
