#!/usr/bin/env bash
# release-build.sh TAG DIR: the release assets of next-deploy TAG in DIR:
# one static binary per runner platform, next-deploy_<tag>_<os>_<arch>, and
# checksums.txt (sha256sum format) that actions/_lib/get-binary.sh verifies
# every binary against, once scripts/release-sign.sh has signed it. No key
# here: this step runs go build and the tests, the signing step alone gets it.
set -euo pipefail
tag=${1:?usage: release-build.sh TAG DIR}
out=${2:?usage: release-build.sh TAG DIR}
[[ $tag =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || {
	echo "release-build.sh: tag '$tag' is not vMAJOR.MINOR.PATCH[-pre]" >&2
	exit 2
}
cd "$(dirname "$0")/.."
mkdir -p "$out"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
	os=${target%/*} arch=${target#*/}
	echo "building $tag for $os/$arch" >&2
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
		-ldflags "-s -w -X main.version=$tag" \
		-o "$out/next-deploy_${tag}_${os}_${arch}" ./cmd/next-deploy
done
(cd "$out" && sha256sum next-deploy_"${tag}"_* >checksums.txt)
cat "$out/checksums.txt"
