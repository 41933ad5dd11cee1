// next-deploy: starts a kept app of skew protection: one app of an
// ecosystem, copied under another name with cwd and script inside one
// release (not through current), its own number of workers, listening on
// a unix socket until its window ends (the drain preload does both), and
// left stopped by pm2 once it exits on its own. Written and used by
// next-deploy activate; do not edit.
'use strict';
const e = process.env;
const c = require(e.NEXT_DEPLOY_ECOSYSTEM);
const apps = Array.isArray(c) ? c : (c && Array.isArray(c.apps) ? c.apps : [c]);
const a = apps.find((x) => x && x.name === e.NEXT_DEPLOY_APP);
if (!a) throw new Error('no app ' + e.NEXT_DEPLOY_APP + ' in ' + e.NEXT_DEPLOY_ECOSYSTEM);
let nodeArgs = a.node_args || a.nodeArgs || [];
if (typeof nodeArgs === 'string') nodeArgs = nodeArgs.split(/\s+/).filter(Boolean);
// Without the preload the app would listen on the app's own port, which
// the pm2 daemon shares between apps: the old release would serve there.
if (!nodeArgs.some((x) => String(x).endsWith('/.next-deploy/drain.cjs'))) {
  nodeArgs = ['--require', e.NEXT_DEPLOY_PRELOAD].concat(nodeArgs);
}
const extra = {
  NEXT_DEPLOY_LISTEN_PATH: e.NEXT_DEPLOY_SKEW_SOCKET,
  NEXT_DEPLOY_SKEW_UNTIL: e.NEXT_DEPLOY_SKEW_UNTIL,
};
const app = Object.assign({}, a, {
  name: e.NEXT_DEPLOY_AS,
  cwd: e.NEXT_DEPLOY_CWD,
  script: e.NEXT_DEPLOY_SCRIPT,
  exec_mode: 'cluster',
  instances: Number(e.NEXT_DEPLOY_SKEW_INSTANCES) || 1,
  node_args: nodeArgs,
  autorestart: true,
  stop_exit_codes: [0, 130, 143],
  watch: false,
  env: Object.assign({}, a.env, extra),
});
delete app.nodeArgs;
delete app.execMode;
// With a restart delay pm2 marks an app that exits with a stop code
// "waiting restart", though it restarts nothing: it must show stopped.
delete app.exp_backoff_restart_delay;
delete app.restart_delay;
// The env_<name> blocks are applied over env (pm2 --env <name>): the
// socket and the window win over them too.
for (const k of Object.keys(app)) {
  if (k.startsWith('env_')) app[k] = Object.assign({}, app[k], extra);
}
module.exports = { apps: [app] };
