#!/usr/bin/env bash
# lint-actions.sh: actionlint (with shellcheck for run: scripts, when it is
# installed) over this repository's workflows and the example callers.
# Installs nothing: CI installs actionlint at an exact version
# (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7). Without it
# this skips, except under CI=true where it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v actionlint >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		echo "lint-actions: actionlint not found (CI=true: a missing tool fails); go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7" >&2
		exit 1
	fi
	echo "lint-actions: actionlint not found; skipped" >&2
	exit 0
fi
command -v shellcheck >/dev/null 2>&1 || echo "lint-actions: shellcheck not found; run: scripts are not checked" >&2
actionlint .github/workflows/*.yml examples/workflows/*.yml
echo "lint-actions: $(actionlint -version | head -1): ok" >&2
