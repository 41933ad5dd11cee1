package pm2

import _ "embed"

// The scripts every operation runs on a host: POSIX sh files in scripts/,
// linted by shellcheck (test/run.sh), and the node programs they run.
// Runner.run puts prelude first. One-line scripts stay next to their Go
// function.
var (
	//go:embed scripts/prelude.sh
	prelude string
	//go:embed scripts/inspect.sh
	inspectScript string
	//go:embed scripts/inspect.cjs
	inspectJS string
	//go:embed scripts/status.cjs
	statusJS string
	//go:embed scripts/write.sh
	writeScript string
	//go:embed scripts/migrate.sh
	migrateScript string
	// migrateJS is MigratePath's content: it starts one app of an
	// ecosystem under another name (Migrate).
	//
	//go:embed scripts/migrate.config.js
	migrateJS string
	//go:embed scripts/skew-start.sh
	skewStartScript string
	//go:embed scripts/skew-state.cjs
	skewStateJS string
	//go:embed scripts/skew-end.sh
	skewEndScript string
	//go:embed scripts/skew-clean.sh
	skewCleanScript string
	// skewConfigJS is SkewConfigPath's content: it starts a kept app
	// (StartKept).
	//
	//go:embed scripts/skew.config.js
	skewConfigJS string
)
