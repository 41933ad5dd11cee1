# prelude.sh starts every script of package pm2 (Runner.cmd puts it
# first): strict mode; the deploy root from $1, a leading ~ expanded; the
# pm2 environment name from $2 (for pm2env); fail for messages; pm2 run
# from the root, never from inside a release (a pruned working directory
# breaks the daemon). The script that follows sees its own arguments as
# $1...
set -eu
root=$1 env=$2; shift 2
# shellcheck disable=SC2088 # a literal "~/" is what is expanded here
case $root in "~/"*) root=$HOME/${root#"~/"} ;; esac
fail() { printf '%s\n' "$*" >&2; exit 1; }
command -v pm2 >/dev/null 2>&1 || fail "pm2 is not installed for $(id -un) (not on PATH): install it with npm install -g pm2"
command -v node >/dev/null 2>&1 || fail "node is not installed for $(id -un) (not on PATH)"
cd "$root" 2>/dev/null || fail "deploy path $root does not exist: deliver a release first"
# pm2env runs pm2 with its arguments and --env <env> when one is set.
pm2env() { if [ -n "$env" ]; then pm2 "$@" --env "$env"; else pm2 "$@"; fi; }
