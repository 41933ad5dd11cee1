# derive.sh tells which files it can make from those of release $1 by
# replacing $1 with $2 in them. Input (stdin): "sha256  path" lines; the
# answer: the numbers (from 1) of the lines whose file it can make.
: "${root:?}" "${releases:?}" # from prelude.sh
base=$1 new=$2
b="$root/$releases/$base"
old=$(printf '%s' "$base" | sed 's/[.]/[.]/g')
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cat > "$t/in"
# One cp, one sed and one sha256sum for all the files, not a sed per
# file: a process each costs seconds on a busy host.
mkdir "$t/d"
cut -d' ' -f3- "$t/in" | (cd "$b" && xargs -d '\n' -r cp --parents -t "$t/d" -- 2>/dev/null) || true
(cd "$t/d" && find . -type f -print0 | xargs -0 -r sed -i "s/$old/$new/g")
(cd "$t/d" && sha256sum -c "$t/in" 2>/dev/null) | sed -n 's/: OK$//p' > "$t/ok"
awk 'FILENAME == ARGV[1] { ok[$0] = 1; next } { p = substr($0, index($0, "  ") + 2); if (p in ok) print FNR }' "$t/ok" "$t/in"
exit 0
