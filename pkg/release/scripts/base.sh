# base.sh: delta_base finds the release a delta of release $1 (never its
# own base) is assembled from: current when it has a file manifest, else
# the newest complete release (by its manifest's time on disk) that has
# one. It answers NONE, or BASE and its id, then its listing, gzip'd
# (release.Base), each path of its file manifest in three columns, for
# gzip finds more in a column of like things than in mixed lines:
#  - the number of paths, then each path front-coded: how many leading
#    bytes it shares with the one before, a tab, the rest;
#  - per path, its type and mode ("f644", "d755", "l777");
#  - per file or symlink: a file's sha256 cut to its first $2 hex digits
#    (its size left out: the tree is verified against full hashes and
#    sizes anyway), a symlink's target.
# The host reads nothing but the manifest: which files it can make from
# the base's by putting the new id in place of the base's, the runner
# works out from these hashes and the new release's files
# (release.Holding).
delta_base() {
	: "${root:?}" "${releases:?}" "${current:?}" "${manifest:?}" "${files:?}" # from prelude.sh
	want=$1 short=$2
	rel="$root/$releases"
	base=
	if [ -L "$root/$current" ]; then
		c=$(readlink "$root/$current"); c=${c%/}; c=${c##*/}
		if base_ok "$c"; then base=$c; fi
	fi
	if [ -z "$base" ]; then
		for m in "$rel"/*/"$manifest"; do
			[ -f "$m" ] || continue
			d=${m%/"$manifest"}; c=${d##*/}
			base_ok "$c" || continue
			# find -newer: test -nt is not POSIX.
			if [ -z "$base" ] || [ -n "$(find "$m" -newer "$rel/$base/$manifest")" ]; then base=$c; fi
		done
	fi
	if [ -z "$base" ]; then
		echo NONE
		return 0
	fi
	printf 'BASE\t%s\n' "$base"
	base_listing "$rel/$base" "$short" | gzip -9 -c
}

base_ok() { [ "$1" != "$want" ] && [ -f "$rel/$1/$manifest" ] && [ -f "$rel/$1/$files" ]; }

# base_listing lists release dir $1 (its file manifest), hashes cut to
# $2 hex digits.
base_listing() {
	LC_ALL=C awk -F'\t' -v n="$2" '
		{
			# The shared prefix by halves: equal prefixes of one length
			# mean equal shorter ones, and substr compares in C, not a
			# character per awk step.
			lo = 0; hi = length($1) < length(prev) ? length($1) : length(prev)
			while (lo < hi) {
				mid = int((lo + hi + 1) / 2)
				if (substr($1, 1, mid) == substr(prev, 1, mid)) lo = mid; else hi = mid - 1
			}
			path[NR] = lo "\t" substr($1, lo + 1); tm[NR] = $2 $3; prev = $1
			if ($2 == "f") data[NR] = substr($5, 1, n)
			else if ($2 == "l") data[NR] = $5
		}
		END {
			print NR
			for (i = 1; i <= NR; i++) print path[i]
			for (i = 1; i <= NR; i++) print tm[i]
			for (i = 1; i <= NR; i++) if (i in data) print data[i]
		}' "$1/$files"
}
