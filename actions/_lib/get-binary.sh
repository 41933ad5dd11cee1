#!/usr/bin/env bash
# get-binary.sh prints the path of the next-deploy binary that belongs to the
# action running it, getting it at most once per version and runner:
#
#   1. the runner's tool cache: $RUNNER_TOOL_CACHE/next-deploy/<version>/<os>-<arch>/next-deploy
#   2. the release asset of this repository's release named like the action's
#      ref (uses: org/next-deploy/actions/deliver@v1 -> release v1), verified
#      against that release's checksums.txt; a mismatch is refused, never run
#   3. go build from the action's own source, when Go is on the runner
#      (branch refs, SHA pins, forks without releases, local ./ actions, act)
#
# <version> is the ref itself for an exact release tag (v1.2.3). Any other ref
# (v1, main, a SHA, or none for a local action) moves, so its cache entry is
# keyed by a digest of the action's Go source too: a self-hosted runner keeps
# its tool cache across jobs and must not run last month's v1 forever.
#
# Inputs (environment):
#   NEXT_DEPLOY_ACTION_REF, NEXT_DEPLOY_ACTION_REPOSITORY
#       ${{ github.action_ref }} and ${{ github.action_repository }}, passed
#       through env: because GITHUB_ACTION_REF is empty in composite actions
#       (actions/runner#2473); when empty they are read from the action's path
#       (.../_actions/<owner>/<repo>/<ref>/...).
#   NEXT_DEPLOY_DOWNLOAD_BASE
#       for tests only: replaces https://github.com/<repo>/releases/download.
#
# stdout carries only the path; everything else goes to stderr.
set -euo pipefail

say() { printf 'get-binary: %s\n' "$*" >&2; }
fail() {
	# One line: the runner turns ::error:: into an annotation.
	printf '::error title=next-deploy binary::%s\n' "$*" >&2
	exit 1
}

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

ref=${NEXT_DEPLOY_ACTION_REF:-}
repo=${NEXT_DEPLOY_ACTION_REPOSITORY:-}
if [[ -z $ref && -z $repo && $src == */_actions/*/*/* ]]; then
	rest=${src##*/_actions/} # <owner>/<repo>/<ref, maybe with slashes>
	owner=${rest%%/*}
	rest=${rest#*/}
	repo=$owner/${rest%%/*}
	ref=${rest#*/}
fi

case $(uname -s) in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) fail "unsupported OS $(uname -s): next-deploy runs on Linux and macOS runners" ;;
esac
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) fail "unsupported CPU $(uname -m): next-deploy runs on amd64 and arm64 runners" ;;
esac

if command -v sha256sum >/dev/null 2>&1; then
	sha256=(sha256sum)
else
	sha256=(shasum -a 256)
fi

# The version key of the cache.
if [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	version=$ref
else
	# Only what goes into the binary; node_modules and dot-directories can be
	# large and are not Go source.
	digest=$(cd "$src" && find . \( -name node_modules -o -name '.?*' \) -prune -o \
		-type f \( -name '*.go' -o -name go.mod -o -name go.sum \) ! -name '*_test.go' -print |
		LC_ALL=C sort | tr '\n' '\0' | xargs -0 "${sha256[@]}" | "${sha256[@]}" | cut -c1-12)
	label=${ref:-local}
	version=${label//[^A-Za-z0-9._-]/_}+$digest
fi

cache=${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}/next-deploy
dir=$cache/$version/$os-$arch
bin=$dir/next-deploy
if [[ -x $bin ]]; then
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$dir"
tmp=$(mktemp "$dir/.next-deploy.XXXXXX")
trap 'rm -f "$tmp" "$tmp.sums"' EXIT

# install moves a complete binary into place: a concurrent job sees either
# nothing or the whole file.
install_bin() {
	chmod 0755 "$tmp"
	mv -f "$tmp" "$bin"
	# Source builds of the same ref before this one are dead weight.
	if [[ $version == *+* ]]; then
		for old in "$cache/${version%+*}"+*; do
			[[ $old == "$cache/$version" || ! -d $old ]] || rm -rf "$old"
		done
	fi
	printf '%s\n' "$bin"
	exit 0
}

# fetch URL FILE: 0 fetched, 1 not there or unreachable.
fetch() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 --connect-timeout 10 --max-time 300 -o "$2" "$1" 2>/dev/null
	elif command -v wget >/dev/null 2>&1; then
		wget -q --tries=3 --timeout=30 -O "$2" "$1"
	else
		return 1
	fi
}

if [[ -n $ref && -n $repo ]]; then
	base=${NEXT_DEPLOY_DOWNLOAD_BASE:-${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download}/$ref
	if fetch "$base/checksums.txt" "$tmp.sums"; then
		# Lines as sha256sum writes them: <hex>  next-deploy_<version>_<os>_<arch>
		entries=$(grep -E "^[0-9a-f]{64} [ *]next-deploy_[A-Za-z0-9.+-]+_${os}_${arch}\$" "$tmp.sums" || true)
		if [[ -z $entries ]]; then
			say "release $ref of $repo has no next-deploy for $os/$arch in checksums.txt"
		elif [[ $(printf '%s\n' "$entries" | wc -l) -ne 1 ]]; then
			fail "checksums.txt of release $ref of $repo lists more than one next-deploy for $os/$arch; refusing to guess"
		else
			want=${entries%% *}
			asset=${entries##*[ *]}
			fetch "$base/$asset" "$tmp" || fail "could not download $asset from release $ref of $repo ($base/$asset); retry the job"
			got=$("${sha256[@]}" "$tmp" | cut -c1-64)
			if [[ $got != "$want" ]]; then
				rm -f "$tmp"
				fail "refusing $asset from release $ref of $repo: its sha256 is $got but the release's checksums.txt says $want (a corrupted or tampered download); nothing was installed; retry, and report it if it persists"
			fi
			say "downloaded $asset from release $ref of $repo (sha256 verified)"
			install_bin
		fi
	else
		say "no release $ref of $repo to download from (or it is unreachable); building from source"
	fi
fi

if command -v go >/dev/null 2>&1; then
	say "building next-deploy ${ref:-(local)} for $os/$arch from $src"
	(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp" ./cmd/next-deploy) >&2 ||
		fail "go build of next-deploy in $src failed; see the lines above"
	install_bin
fi

fail "no next-deploy for $os/$arch: ref '${ref:-(local)}' of ${repo:-this repository} has no release with a verified binary and Go is not installed to build it; use a release tag (uses: org/next-deploy/actions/deliver@v1) or add actions/setup-go before this step"
