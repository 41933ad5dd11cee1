#!/usr/bin/env bash
# The project's test command: format, vet, unit tests and the test-bed
# tests (real sshd, pm2, nginx; they need root and skip without it, except
# under CI=true where a missing tool fails them).
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" $unformatted >&2
	exit 1
fi
go vet ./...
# staticcheck at the version .ci/run installs; a laptop without it skips.
if command -v staticcheck >/dev/null 2>&1; then
	staticcheck ./...
elif [ "${CI:-}" = true ]; then
	echo "staticcheck is not installed (.ci/run installs honnef.co/go/tools/cmd/staticcheck@v0.8.2)" >&2
	exit 1
fi
bash scripts/lint-actions.sh
# The scripts that run on hosts (pkg/**/*.sh, embedded) are POSIX sh: the
# hosts have only sh. actions/_lib/*.sh run under bash on the runner and
# are checked as their shebang says. CI installs shellcheck (apt); without
# it this skips, except under CI=true where a missing tool fails.
if command -v shellcheck >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard -- 'pkg/*.sh' | xargs -0 -r shellcheck -s sh
	git ls-files -z --cached --others --exclude-standard -- 'actions/_lib/*.sh' | xargs -0 -r shellcheck
elif [ "${CI:-}" = true ]; then
	echo "shellcheck not found (CI=true: a missing tool fails); apt-get install shellcheck" >&2
	exit 1
else
	echo "shellcheck not found; host scripts not checked" >&2
fi
# -p 2: the bed tests of several packages queue for the one bed (a file
# lock); more packages at once only adds waiting on 2 cores.
go test -race -shuffle=on -count=1 -p 2 -timeout 45m ./...
