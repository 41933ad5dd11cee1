# skew-end.sh deletes the kept app $1 (its workers drain) and removes its
# directory $2 (relative to the root), socket and all: nginx stops routing
# to it.
: "${root:?}" # from prelude.sh
if pm2 describe "$1" >/dev/null 2>&1; then
	pm2 delete "$1" >/dev/null
fi
rm -rf "${root:?}/$2"
