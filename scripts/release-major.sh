#!/usr/bin/env bash
# release-major.sh TAG DIR: after release TAG (vX.Y.Z) is published with the
# assets in DIR, make the major version follow it: the GitHub release vX
# gets the same assets (actions used @vX download their binary from it),
# then the tag vX moves to TAG's commit. Assets first: a job that sees the
# new tag must find the new binary. DIR holds checksums.txt.sig too
# (scripts/release-sign.sh): get-binary.sh runs nothing from an unsigned
# release. Needs gh (GH_TOKEN) and push rights.
set -euo pipefail
tag=${1:?usage: release-major.sh TAG DIR}
dir=${2:?usage: release-major.sh TAG DIR}
[[ $tag =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
	echo "release-major.sh: $tag is not a final vX.Y.Z; the major tag does not move for it" >&2
	exit 2
}
[[ -f $dir/checksums.txt && -f $dir/checksums.txt.sig ]] || {
	echo "release-major.sh: $dir has no checksums.txt and checksums.txt.sig; the major release is never left unsigned" >&2
	exit 2
}
major=${tag%%.*}
commit=$(git rev-parse "$tag^{commit}")
title="$major (now $tag)"
notes="Moves with every $major.x.y release: actions used as @$major download their binary from here. Now $tag; see the release $tag for its notes."

if gh release view "$major" >/dev/null 2>&1; then
	# The binaries, then checksums.txt naming them: a job reading
	# checksums.txt meanwhile finds the binaries it names. The signature and
	# checksums.txt are replaced one after the other; get-binary.sh reads
	# both again once when they do not match.
	gh release upload "$major" "$dir"/next-deploy_* --clobber
	gh release upload "$major" "$dir"/checksums.txt.sig "$dir"/checksums.txt --clobber
	# Drop the previous version's binaries: checksums.txt now lists only these.
	keep=" $(cd "$dir" && echo *) "
	gh release view "$major" --json assets --jq '.assets[].name' | while read -r asset; do
		[[ $keep == *" $asset "* ]] || gh release delete-asset "$major" "$asset" --yes
	done
	gh release edit "$major" --title "$title" --notes "$notes" --latest=false
else
	gh release create "$major" "$dir"/* --target "$commit" --title "$title" --notes "$notes" --latest=false
fi
git tag -f "$major" "$commit"
git push -f origin "refs/tags/$major"
