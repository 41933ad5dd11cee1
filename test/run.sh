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
# -p 2: the bed tests of several packages queue for the one bed (a file
# lock); more packages at once only adds waiting on 2 cores.
go test -race -shuffle=on -count=1 -p 2 -timeout 45m ./...
