# inuse.sh lists the releases that are the working directory of a process
# of this login (a pm2 worker still on an old release).
: "${root:?}" "${releases:?}" # from prelude.sh
cd "$root" 2>/dev/null || exit 0
real=$(pwd -P)
for p in /proc/[0-9]*; do
	d=$(readlink "$p/cwd" 2>/dev/null) || continue
	case $d in
	"$real/$releases"/*) r=${d#"$real/$releases"/}; printf '%s\n' "${r%%/*}" ;;
	esac
done | sort -u
