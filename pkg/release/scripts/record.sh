# record.sh appends the history line $1. One short line appended with
# O_APPEND is written whole; json.Marshal escapes newlines, so an entry is
# always one line.
: "${root:?}" "${state:?}" "${history:?}" # from prelude.sh
mkdir -p "$root/$state"
printf '%s\n' "$1" >> "$root/$state/$history"
