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
#    sizes anyway), a symlink's target. A file outside node_modules/
#    that holds the base's id gets a tab and the first $2 hex digits of
#    the sha256 it has with $1 in place of the base's id (a file of
#    release $1 that has it is made on the host from the base's, not
#    sent). Every release has its id in its asset prefix and build id.
delta_base() {
	: "${root:?}" "${releases:?}" "${current:?}" "${state:?}" "${manifest:?}" "${files:?}" # from prelude.sh
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
	base_listing "$rel/$base" "$base" "$want" "$short" | gzip -9 -c
}

base_ok() { [ "$1" != "$want" ] && [ -f "$rel/$1/$manifest" ] && [ -f "$rel/$1/$files" ]; }

# base_listing lists release dir $1 (id $2) for a delta of release $3,
# hashes cut to $4 hex digits. One grep, cp, sed and sha256sum for all
# the files that hold the id: a process per file costs seconds on a busy
# host.
base_listing() {
	t=$(mktemp -d)
	case $2 in
	*.*) old=$(printf '%s' "$2" | sed 's/[.]/[.]/g') ;;
	*) old=$2 ;;
	esac
	# Regular files only, none through a symlink: a shared entry is a
	# link to the host's own files (secrets), never read here.
	(cd "$1" && find . -path ./node_modules -prune -o -path '*/node_modules' -prune -o -path "./$state" -prune -o -type f -printf '%P\n' |
		xargs -d '\n' -r grep -lF -- "$2") > "$t/hit" 2>/dev/null || true
	: > "$t/sum"
	if [ -s "$t/hit" ]; then
		mkdir "$t/d"
		(cd "$1" && xargs -d '\n' cp --parents -t "$t/d" -- < "$t/hit") 2>/dev/null || true
		(cd "$t/d" && xargs -d '\n' sed -i "s/$old/$3/g" -- < "$t/hit" && xargs -d '\n' sha256sum -- < "$t/hit") > "$t/sum" 2>/dev/null || true
	fi
	LC_ALL=C awk -F'\t' -v n="$4" '
		FILENAME == ARGV[1] { d[substr($0, 67)] = substr($0, 1, n); next }
		{
			k = 0
			while (k < length($1) && k < length(prev) && substr($1, k + 1, 1) == substr(prev, k + 1, 1)) k++
			path[FNR] = k "\t" substr($1, k + 1); tm[FNR] = $2 $3; prev = $1
			if ($2 == "f") data[FNR] = substr($5, 1, n) (($1 in d) ? "\t" d[$1] : "")
			else if ($2 == "l") data[FNR] = $5
		}
		END {
			print FNR
			for (i = 1; i <= FNR; i++) print path[i]
			for (i = 1; i <= FNR; i++) print tm[i]
			for (i = 1; i <= FNR; i++) if (i in data) print data[i]
		}' "$t/sum" "$1/$files"
	rm -rf "$t"
}
