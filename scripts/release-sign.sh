#!/usr/bin/env bash
# release-sign.sh DIR: sign DIR/checksums.txt into DIR/checksums.txt.sig
# (ssh-keygen -Y sign, namespace next-deploy-release), which
# actions/_lib/get-binary.sh verifies against actions/_lib/release-signers
# before it trusts any sha256 in checksums.txt. The signature is then checked
# against that file here too: a secret that does not match the committed key
# fails the release, not every job that uses it.
#
# The key comes in RELEASE_SIGNING_KEY (the repository secret: an OpenSSH
# private key without a passphrase; docs/release-signing.md) and goes only
# into an ssh-agent of this script's own, never onto disk; the agent is
# killed on exit and drops the key after five minutes regardless.
set -euo pipefail
dir=${1:?usage: release-sign.sh DIR}
identity=next-deploy-release
namespace=next-deploy-release
signers=$(cd "$(dirname "$0")/.." && pwd -P)/actions/_lib/release-signers
die() {
	echo "release-sign.sh: $*" >&2
	exit 1
}
[[ -f $dir/checksums.txt ]] || die "no $dir/checksums.txt (scripts/release-build.sh makes it)"
[[ -n ${RELEASE_SIGNING_KEY:-} ]] ||
	die "RELEASE_SIGNING_KEY is empty: the release workflow passes the repository secret of that name; docs/release-signing.md says how to make it"

agent=$(mktemp -d "${TMPDIR:-/tmp}/release-sign.XXXXXX")
cleanup() {
	[[ -z ${SSH_AGENT_PID:-} ]] || ssh-agent -k >/dev/null 2>&1 || true
	rm -rf "$agent"
}
trap cleanup EXIT
eval "$(ssh-agent -s -a "$agent/agent.sock")" >/dev/null
# A secret pasted on Windows has CRLF line ends, which ssh-add rejects.
printf '%s\n' "${RELEASE_SIGNING_KEY//$'\r'/}" | ssh-add -q -t 300 - ||
	die "ssh-add refused RELEASE_SIGNING_KEY: not an OpenSSH private key without a passphrase"
# With a public key file, ssh-keygen -Y sign signs with the agent's private half.
ssh-add -L >"$agent/key.pub"
rm -f "$dir/checksums.txt.sig"
ssh-keygen -q -Y sign -f "$agent/key.pub" -n "$namespace" "$dir/checksums.txt" ||
	die "ssh-keygen -Y sign of $dir/checksums.txt failed"
if ! ssh-keygen -Y verify -f "$signers" -I "$identity" -n "$namespace" -s "$dir/checksums.txt.sig" <"$dir/checksums.txt" >&2; then
	rm -f "$dir/checksums.txt.sig"
	die "the signature does not verify against $signers: RELEASE_SIGNING_KEY is not a key listed there (docs/release-signing.md)"
fi
