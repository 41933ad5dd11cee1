# base.sh finds the release a delta of release $1 (never its own base) is
# assembled from: current when it has a file manifest, else the newest
# complete release (by its manifest's time on disk) that has one. It
# answers NONE, or BASE and its id, then its file manifest gzip'd with
# each file's sha256 cut to its first $2 hex digits.
: "${root:?}" "${releases:?}" "${current:?}" "${manifest:?}" "${files:?}" # from prelude.sh
want=$1 short=$2
rel="$root/$releases"
ok() { [ "$1" != "$want" ] && [ -f "$rel/$1/$manifest" ] && [ -f "$rel/$1/$files" ]; }
base=
if [ -L "$root/$current" ]; then
	c=$(readlink "$root/$current"); c=${c%/}; c=${c##*/}
	if ok "$c"; then base=$c; fi
fi
if [ -z "$base" ]; then
	for m in "$rel"/*/"$manifest"; do
		[ -f "$m" ] || continue
		d=${m%/"$manifest"}; id=${d##*/}
		ok "$id" || continue
		# find -newer: test -nt is not POSIX.
		if [ -z "$base" ] || [ -n "$(find "$m" -newer "$rel/$base/$manifest")" ]; then base=$id; fi
	done
fi
if [ -z "$base" ]; then
	echo NONE
	exit 0
fi
printf 'BASE\t%s\n' "$base"
awk -F'\t' -v OFS='\t' -v n="$short" '$2 == "f" { $5 = substr($5, 1, n) } { print }' "$rel/$base/$files" | gzip -9 -c
