# on-host.sh runs a hook on a host (RunOn). $1 is the folder it runs in
# (a release's app dir; a leading ~/ is the login's home), $2 the
# command, the user's own from next-deploy.yml, run by sh -c with $3, the
# hook's name, as its $0. $4... are exported as NEXT_DEPLOY_RELEASE,
# NEXT_DEPLOY_PREVIOUS, NEXT_DEPLOY_ENV and NEXT_DEPLOY_HOST. The rest of
# its environment is the login's, as sshd makes it (the runner's never
# reaches a host).
set -eu
dir=$1 run=$2 name=$3
NEXT_DEPLOY_RELEASE=$4 NEXT_DEPLOY_PREVIOUS=$5 NEXT_DEPLOY_ENV=$6 NEXT_DEPLOY_HOST=$7
export NEXT_DEPLOY_RELEASE NEXT_DEPLOY_PREVIOUS NEXT_DEPLOY_ENV NEXT_DEPLOY_HOST
# shellcheck disable=SC2088 # a literal "~/" is what is expanded here
case $dir in "~/"*) dir=$HOME/${dir#"~/"} ;; esac
cd "$dir" 2>/dev/null || { printf 'next-deploy: cannot enter %s\n' "$dir" >&2; exit 1; }
exec sh -c "$run" "$name"
