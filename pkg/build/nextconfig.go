package build

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/standalone"
)

//go:embed resolveconfig.cjs
var resolveConfigJS string

const resolvedMarker = "NEXT_DEPLOY_RESOLVED_CONFIG="

// NextConfig is the part of next.config, as Next resolves it for a
// production build, that decides whether the build can deploy.
type NextConfig struct {
	Output      string `json:"output"`
	AssetPrefix string `json:"assetPrefix"`
	BasePath    string `json:"basePath"`
}

// ResolveConfig loads the next.config of the app in dir through Next's
// own loader, with the environment the build gets (env), in a second or
// two: the checks that used to come after a build of minutes come first.
func ResolveConfig(ctx context.Context, node, dir string, env []string) (NextConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "-e", resolveConfigJS)
	cmd.Dir = dir
	// next build runs with NODE_ENV=production whatever the shell says.
	cmd.Env = append(env, "NODE_ENV=production")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return NextConfig{}, fmt.Errorf("load next.config of %s through next/dist/server/config: %w: %s", dir, err, lastLines(stderr.String(), 5))
	}
	var c NextConfig
	for line := range strings.Lines(stdout.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), resolvedMarker); ok {
			if err := json.Unmarshal([]byte(v), &c); err != nil {
				return NextConfig{}, fmt.Errorf("load next.config of %s: %w", dir, err)
			}
			return c, nil
		}
	}
	return NextConfig{}, fmt.Errorf("load next.config of %s: the loader printed no config: %s", dir, lastLines(stdout.String(), 5))
}

// checkConfig refuses, before the build, a next.config that cannot
// deploy. A loader that fails (a version it does not know) only warns:
// the checks after the build still stand.
func (o Options) checkConfig(ctx context.Context, node, dir string, env []string, res *Result) error {
	c, err := ResolveConfig(ctx, node, dir, env)
	if err != nil {
		o.warn(res, fmt.Sprintf("next.config not checked before the build: %v", err))
		return nil
	}
	res.Config = &c
	return c.Check(dir, o.Release, o.BasePath)
}

// ConfigError is a next.config that cannot deploy, found before the
// build: bad input (exit status 2), nothing built.
type ConfigError struct {
	Dir      string
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("next.config of %s cannot deploy (checked before the build, as next build would load it): %s",
		e.Dir, strings.Join(e.Problems, "; "))
}

// Check reports every setting of c that the release layout cannot serve:
// no standalone output, an assetPrefix that is not /<release> (under the
// basePath: nginx serves <basePath>/<release>/_next/static/ from that
// release), a basePath other
// than the one given to build-standalone and config nginx (--base-path),
// whose proxy location must match it. nil when c can deploy.
func (c NextConfig) Check(dir, release, basePath string) error {
	var p []string
	if c.Output != "standalone" {
		p = append(p, fmt.Sprintf(`output is %q, want "standalone": add output: "standalone" to next.config`, c.Output))
	}
	if want := standalone.AssetPrefix(basePath, release); c.AssetPrefix != want {
		p = append(p, fmt.Sprintf("assetPrefix is %q, want %q (the release): set assetPrefix: process.env.NEXT_DEPLOY_ASSET_PREFIX in next.config", c.AssetPrefix, want))
	}
	switch {
	case c.BasePath == basePath:
	case basePath == "":
		p = append(p, fmt.Sprintf("basePath is %q: give --base-path %s to build-standalone, and to config nginx, whose proxy location must serve it", c.BasePath, c.BasePath))
	default:
		p = append(p, fmt.Sprintf("basePath is %q, but --base-path says %q: make them equal (and config nginx --base-path too)", c.BasePath, basePath))
	}
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Dir: dir, Problems: p}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
