#!/usr/bin/env bash
# get-binary.sh prints the path of the next-deploy binary that belongs to the
# action running it, for the runner's OS and CPU:
#
#   1. a release binary: release <ref> of the action's repository (uses:
#      org/next-deploy/actions/deliver@v1 -> release v1), whose checksums.txt
#      must carry a good signature (checksums.txt.sig) by a key in
#      release-signers next to this script; the one asset it lists for this
#      platform, next-deploy_<version>_<os>_<arch>, names the exact version
#      (a moving v1 resolves to one, v1.4.2) and its sha256. The binary is
#      kept in the tool cache at
#        $RUNNER_TOOL_CACHE/next-deploy/<owner>/<repo>/<version>/<os>-<arch>/next-deploy
#   2. go build from the action's own source, when the ref has no release and
#      Go is on the runner (branch refs, SHA pins, forks without releases,
#      local ./ actions, act).
#
# Why it is built this way: a self-hosted runner keeps its tool cache across
# jobs, and any job on it (of another repository, a fork, a pull request) can
# write there. So nothing read from the tool cache is trusted:
#   - the key has the repository in it, so a fork's release never stands in
#     for this one by accident;
#   - a cached binary is hashed on every use and compared with a sha256 that
#     does not come from the cache: from checksums.txt downloaded in this job
#     and verified against release-signers, which comes with the action's
#     source (the runner downloads that afresh for each job). The first step
#     of a job fetches checksums.txt and its signature (two small files) and
#     writes "<version> <sha256>" to $RUNNER_TEMP, which the runner empties
#     between jobs; later steps of the job hash the binary against that, so
#     they need no network, and all of them run the same version even if v1
#     moves meanwhile;
#   - a binary that does not match is refused, never replaced silently:
#     something on the runner wrote it, and the job holds a deploy key;
#   - the signature keeps a release asset that was swapped together with a
#     regenerated checksums.txt from running: it takes the signing key, not
#     just write access to the release, to make a binary pass;
#   - a source build is never shared between jobs: it lives in $RUNNER_TEMP.
# The trust root is the file next to this script, never an environment
# variable: a job's env: could swap a variable, not the action's source. Tests
# copy this script next to a signers file of their own. Out of reach of any
# script: a process of another job running on the same runner concurrently
# (several runner services as one user share files); give repositories that
# do not trust each other their own runners.
#
# Inputs (environment):
#   NEXT_DEPLOY_ACTION_REF, NEXT_DEPLOY_ACTION_REPOSITORY
#       ${{ github.action_ref }} and ${{ github.action_repository }}, passed
#       through env: because GITHUB_ACTION_REF is empty in composite actions
#       (actions/runner#2473); when empty they are read from the action's path
#       (.../_actions/<owner>/<repo>/<ref>/...).
#   NEXT_DEPLOY_DOWNLOAD_BASE
#       replaces https://github.com/<repo>/releases/download (tests use a
#       server on 127.0.0.1). Only where files come from: what runs is still
#       decided by the signature.
#   RUNNER_TOOL_CACHE, RUNNER_TEMP: set by the runner.
#
# stdout carries only the path; everything else goes to stderr.
set -euo pipefail

say() { printf 'get-binary: %s\n' "$*" >&2; }
fail() {
	# One line: the runner turns ::error:: into an annotation.
	printf '::error title=next-deploy binary::%s\n' "$*" >&2
	exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
src=$(cd "$here/../.." && pwd -P)
# ssh-keygen -Y: the identity and namespace scripts/release-sign.sh signs with.
signers=$here/release-signers
identity=next-deploy-release
namespace=next-deploy-release
semver='v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?'

ref=${NEXT_DEPLOY_ACTION_REF:-}
repo=${NEXT_DEPLOY_ACTION_REPOSITORY:-}
if [[ -z $ref && -z $repo && $src == */_actions/*/*/* ]]; then
	rest=${src##*/_actions/} # <owner>/<repo>/<ref, maybe with slashes>
	owner=${rest%%/*}
	rest=${rest#*/}
	repo=$owner/${rest%%/*}
	ref=${rest#*/}
fi
# The repository becomes two directories of the cache key.
if [[ -n $repo && (! $repo =~ ^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$ || $repo == */. || $repo == */..) ]]; then
	fail "the action's repository '$repo' is not <owner>/<name>"
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
plat=$os-$arch

if command -v sha256sum >/dev/null 2>&1; then
	sha256=(sha256sum)
else
	sha256=(shasum -a 256)
fi
sha_of() { "${sha256[@]}" "$1" | cut -c1-64; }

cache=${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}/next-deploy
# Emptied by the runner between jobs; outside a runner there is none.
job=${RUNNER_TEMP:+$RUNNER_TEMP/next-deploy}
label=${ref:-local}
label=${label//[^A-Za-z0-9._-]/_}
[[ $label != .* ]] || label=_$label

work=$(mktemp -d "${TMPDIR:-/tmp}/next-deploy.XXXXXX")
tmp=
trap 'rm -rf "$work"; [[ -z $tmp ]] || rm -f "$tmp"' EXIT

# Entries from before the repository was in the key (v1.2.3, v1+<digest>):
# an owner name has neither a dot nor a plus.
for old in "$cache"/*[.+]*; do
	[[ ! -d $old ]] || rm -rf "$old"
done

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

base= # where release $ref's files are, set by from_release

# The job's record of the release binary: "<version> <sha256>".
record=
[[ -z $job || -z $repo ]] || record=$job/$repo/$label.$plat
remember() {
	[[ -n $record ]] || return 0
	mkdir -p "${record%/*}"
	printf '%s %s\n' "$1" "$2" >"$record.$$"
	mv -f "$record.$$" "$record"
}

# use_cached VERSION SHA256: print the cached binary of VERSION and exit if
# its sha256 is SHA256; refuse it if it is not; 1 when there is none.
use_cached() {
	local bin=$cache/$repo/$1/$plat/next-deploy got
	[[ -e $bin || -L $bin ]] || return 1
	[[ -f $bin && ! -L $bin ]] || fail "refusing the cached $bin of release $ref of $repo: not a regular file, so not one this script installed; something else on this runner wrote it; find out what, then delete ${bin%/*}"
	got=$(sha_of "$bin")
	if [[ $got != "$2" ]]; then
		fail "refusing the cached $bin of release $ref of $repo: its sha256 is $got but the release's signed checksums.txt says $2; something else on this runner wrote it (a poisoned tool cache); nothing was run; find out what, then delete ${bin%/*}"
	fi
	[[ -x $bin ]] || chmod 0755 "$bin"
	remember "$1" "$2"
	printf '%s\n' "$bin"
	exit 0
}

# verified_sums: checksums.txt of release $ref into $work/sums, its signature
# checked. 0 verified, 1 no release (or unreachable); refuses a bad signature.
verified_sums() {
	local attempt out
	for attempt in 1 2; do
		rm -f "$work/sums" "$work/sums.sig"
		fetch "$base/checksums.txt" "$work/sums" || return 1
		[[ -f $signers ]] || fail "no $signers to verify release $ref of $repo with; the action's copy is incomplete"
		command -v ssh-keygen >/dev/null 2>&1 ||
			fail "ssh-keygen (OpenSSH 8.1 or newer) is needed to verify release $ref of $repo and is not installed on this runner; install openssh-client"
		if ! fetch "$base/checksums.txt.sig" "$work/sums.sig"; then
			out="the release has no checksums.txt.sig"
		elif out=$(ssh-keygen -Y verify -f "$signers" -I "$identity" -n "$namespace" -s "$work/sums.sig" <"$work/sums" 2>&1); then
			say "checksums.txt of release $ref of $repo: ${out%%$'\n'*}"
			return 0
		fi
		out=${out%$'\n'}
		out=${out//$'\n'/; }
		if [[ $out == *"illegal option"* || $out == *"unknown option"* ]]; then
			fail "ssh-keygen on this runner cannot verify signatures (-Y verify needs OpenSSH 8.1 or newer): $out"
		fi
		# A release being updated replaces checksums.txt and its signature
		# one after the other (scripts/release-major.sh).
		if [[ $attempt == 1 ]]; then
			say "checksums.txt of release $ref of $repo does not verify ($out); reading it again in 2 s"
			sleep 2
		fi
	done
	fail "refusing release $ref of $repo: its checksums.txt is not signed by a key in $signers ($out); nothing was downloaded or run; a release made without the signing key, or a tampered one: report it"
}

# from_release: the release binary, from the cache or downloaded; returns
# when the ref has no release.
from_release() {
	local entries want asset version dir got
	if [[ -n $record && -f $record ]] && read -r version want <"$record" &&
		[[ $version =~ ^$semver$ && $want =~ ^[0-9a-f]{64}$ ]]; then
		use_cached "$version" "$want" || true # gone meanwhile: ask the release
	fi
	base=${NEXT_DEPLOY_DOWNLOAD_BASE:-${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download}/$ref
	if ! verified_sums; then
		say "no release $ref of $repo to download from (or it is unreachable); building from source"
		return 0
	fi
	# Lines as sha256sum writes them: <hex>  next-deploy_<version>_<os>_<arch>
	entries=$(grep -E "^[0-9a-f]{64} [ *]next-deploy_${semver}_${os}_${arch}\$" "$work/sums" || true)
	if [[ -z $entries ]]; then
		say "release $ref of $repo has no next-deploy for $os/$arch in checksums.txt"
		return 0
	fi
	[[ $(printf '%s\n' "$entries" | wc -l) -eq 1 ]] ||
		fail "checksums.txt of release $ref of $repo lists more than one next-deploy for $os/$arch; refusing to guess"
	want=${entries%% *}
	asset=${entries##*[ *]}
	version=${asset#next-deploy_}
	version=${version%_"${os}"_"${arch}"}
	# v1.2.3 is itself; v1 and v1.2 move within their line.
	if [[ $ref =~ ^v[0-9]+(\.[0-9]+)?$ && $version != "$ref".* ]] || [[ $ref =~ ^$semver$ && $version != "$ref" ]]; then
		fail "refusing release $ref of $repo: its checksums.txt lists $asset, which is not a version of $ref"
	fi

	use_cached "$version" "$want" || true
	dir=$cache/$repo/$version/$plat
	mkdir -p "$dir"
	tmp=$(mktemp "$dir/.next-deploy.XXXXXX")
	fetch "$base/$asset" "$tmp" || fail "could not download $asset from release $ref of $repo ($base/$asset); retry the job"
	got=$(sha_of "$tmp")
	if [[ $got != "$want" ]]; then
		fail "refusing $asset from release $ref of $repo: its sha256 is $got but the release's signed checksums.txt says $want (a corrupted or tampered download); nothing was installed; retry, and report it if it persists"
	fi
	say "downloaded $asset from release $ref of $repo (signature and sha256 verified)"
	chmod 0755 "$tmp"
	# A concurrent job sees either nothing or the whole file.
	mv -f "$tmp" "$dir/next-deploy"
	tmp=
	# Older versions of a moving ref's line, unused for a day, are dead weight.
	if [[ $ref != "$version" ]]; then
		find "$cache/$repo" -mindepth 1 -maxdepth 1 -type d -name "${version%%.*}.*" ! -name "$version" -mtime +0 -exec rm -rf {} + 2>/dev/null || true
	fi
	remember "$version" "$want"
	printf '%s\n' "$dir/next-deploy"
	exit 0
}

# from_source: go build of the action's own source, kept for this job only;
# the key adds a digest of that source, so a moved ref is rebuilt.
from_source() {
	local digest version dir old
	# Only what goes into the binary; node_modules and dot-directories can be
	# large and are not Go source.
	digest=$(cd "$src" && find . \( -name node_modules -o -name '.?*' \) -prune -o \
		-type f \( -name '*.go' -o -name go.mod -o -name go.sum \) ! -name '*_test.go' -print |
		LC_ALL=C sort | tr '\n' '\0' | xargs -0 "${sha256[@]}" | "${sha256[@]}" | cut -c1-12)
	version=$label+$digest
	dir=${job:-$cache}/${repo:-_local}/$version/$plat
	if [[ -x $dir/next-deploy && ! -L $dir/next-deploy ]]; then
		printf '%s\n' "$dir/next-deploy"
		exit 0
	fi
	command -v go >/dev/null 2>&1 ||
		fail "no next-deploy for $os/$arch: ref '${ref:-(local)}' of ${repo:-this repository} has no release with a verified binary and Go is not installed to build it; use a release tag (uses: org/next-deploy/actions/deliver@v1) or add actions/setup-go before this step"
	mkdir -p "$dir"
	tmp=$(mktemp "$dir/.next-deploy.XXXXXX")
	say "building next-deploy ${ref:-(local)} for $os/$arch from $src"
	(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp" ./cmd/next-deploy) >&2 ||
		fail "go build of next-deploy in $src failed; see the lines above"
	chmod 0755 "$tmp"
	mv -f "$tmp" "$dir/next-deploy"
	tmp=
	# Source builds of the same ref before this one are dead weight.
	for old in "${dir%/*/*}/$label"+*; do
		[[ $old == "${dir%/*}" || ! -d $old ]] || rm -rf "$old"
	done
	printf '%s\n' "$dir/next-deploy"
	exit 0
}

if [[ -n $ref && -n $repo ]]; then
	from_release
fi
from_source
