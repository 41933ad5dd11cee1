package main

import (
	"os"
	"os/user"

	"github.com/org/next-deploy/internal/cli"
)

// runURL is the Actions run that made the change, for manifests and the
// history.
func runURL(env *cli.Env) string {
	server, repo, id := env.Getenv("GITHUB_SERVER_URL"), env.Getenv("GITHUB_REPOSITORY"), env.Getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || id == "" {
		return ""
	}
	return server + "/" + repo + "/actions/runs/" + id
}

// whoAmI is user@machine of the runner, for locks and history.
func whoAmI() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
