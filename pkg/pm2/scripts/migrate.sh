# migrate.sh starts app $2 of ecosystem $1 under the name $3, from the
# helper ecosystem $4 (migrate.config.js, relative to the root). pm2
# evaluates an ecosystem in its CLI process, so the helper gets the app to
# copy from the environment of this one pm2 start.
: "${root:?}" # from prelude.sh
eco=$1 app=$2 as=$3 helper=$4
case $eco in /*) ;; *) eco=$root/$eco ;; esac
[ -f "$root/$helper" ] || fail "missing $root/$helper: run activate, which installs it"
NEXT_DEPLOY_ECOSYSTEM=$eco NEXT_DEPLOY_APP=$app NEXT_DEPLOY_AS=$as
export NEXT_DEPLOY_ECOSYSTEM NEXT_DEPLOY_APP NEXT_DEPLOY_AS
pm2env start "$helper"
