# skew-start.sh starts the kept app $3 of release $4: app $2 of the
# ecosystem $1 copied by the helper ecosystem $10 (skew.config.js) with
# cwd $5 and script $6 in the release, $7 workers, its window ending at
# $8 (ms since the epoch), listening on the socket $9 (relative to the
# root; nginx routes to it while its directory exists), loading the drain
# preload ${11}; ${12} is skew-state.cjs. When it runs already it is
# reloaded (its workers are replaced one by one, its socket stays): its
# window is the new one. A stopped or errored one is deleted and started
# again. pm2 evaluates an ecosystem in its CLI process, so the helper gets
# everything from the environment of this one pm2 command.
: "${root:?}" # from prelude.sh
eco=$1 app=$2 as=$3 id=$4 cwd=$5 script=$6 instances=$7 until=$8 sock=$root/$9
helper=${10} preload=${11} state_js=${12}
case $eco in /*) ;; *) eco=$root/$eco ;; esac
[ -f "$root/$helper" ] || fail "missing $root/$helper"
[ -f "$script" ] || fail "release $id has no $script: it was pruned, or is incomplete"
[ "${#sock}" -le 107 ] || fail "the socket path $sock is longer than 107 bytes (the unix limit): use a shorter deploy path or release id"
dir=$(dirname "$sock")
# nginx's user must reach the socket: every directory on the way is
# searchable.
mkdir -p "$(dirname "$dir")"
chmod 755 "$root/.next-deploy" "$(dirname "$dir")"
NEXT_DEPLOY_ECOSYSTEM=$eco NEXT_DEPLOY_APP=$app NEXT_DEPLOY_AS=$as
NEXT_DEPLOY_CWD=$cwd NEXT_DEPLOY_SCRIPT=$script NEXT_DEPLOY_SKEW_INSTANCES=$instances
NEXT_DEPLOY_SKEW_UNTIL=$until NEXT_DEPLOY_SKEW_SOCKET=$sock NEXT_DEPLOY_PRELOAD=$root/$preload
export NEXT_DEPLOY_ECOSYSTEM NEXT_DEPLOY_APP NEXT_DEPLOY_AS NEXT_DEPLOY_CWD NEXT_DEPLOY_SCRIPT
export NEXT_DEPLOY_SKEW_INSTANCES NEXT_DEPLOY_SKEW_UNTIL NEXT_DEPLOY_SKEW_SOCKET NEXT_DEPLOY_PRELOAD
state=$(pm2 jlist 2>/dev/null | node -e "$state_js" -- "$as")
case $state in
online)
	pm2env reload "$helper" --update-env
	;;
broken)
	pm2 delete "$as" >/dev/null
	rm -rf "$dir"
	pm2env start "$helper"
	;;
*)
	rm -rf "$dir"
	pm2env start "$helper"
	;;
esac
