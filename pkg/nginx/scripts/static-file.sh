# static-file.sh prints the path of one static file of release $2 under
# the deploy root $1 (~ expanded), relative to its .next/static (a chunk
# when there is one), or nothing when the release has none. $3 is where
# server.js is inside the release ("" or apps/web).
set -eu
root=$1 id=$2 appdir=$3
# shellcheck disable=SC2088 # a literal "~/" is what is expanded here
case $root in "~/"*) root=$HOME/${root#"~/"} ;; esac
dir=$root/releases/$id/${appdir:+$appdir/}.next/static
[ -d "$dir" ] || exit 0
for f in "$dir"/chunks/*.js; do
	if [ -f "$f" ]; then
		printf 'chunks/%s\n' "${f##*/}"
		exit 0
	fi
done
f=$(find "$dir" -type f | head -n 1)
[ -z "$f" ] || printf '%s\n' "${f#"$dir"/}"
