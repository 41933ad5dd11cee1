// inspect.cjs prints what the ecosystem file argv[1] defines, as JSON:
// its apps, with cwd and script resolved the way pm2 resolves them
// (relative to the directory pm2 runs in; symlinks are not resolved) and
// the settings they start with (env merged with env_<argv[2]>, as pm2
// --env does); and its first line with the sha256 of the rest, which tell
// a file next-deploy wrote, untouched, from a hand-written one. Run by
// inspect.sh with node -e.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const file = path.resolve(process.argv[1]);
const envName = process.argv[2] || '';
const text = fs.readFileSync(file);
const nl = text.indexOf(10);
const first = nl < 0 ? text.toString() : text.subarray(0, nl).toString();
const rest = nl < 0 ? Buffer.alloc(0) : text.subarray(nl + 1);
let c = require(file);
const apps = Array.isArray(c) ? c : (c && Array.isArray(c.apps) ? c.apps : [c]);
const str = (v) => (v === undefined || v === null ? '' : String(v));
process.stdout.write(JSON.stringify({
  first_line: first,
  body_sha256: crypto.createHash('sha256').update(rest).digest('hex'),
  apps: apps.map((a) => {
    const cwd = a.cwd ? path.resolve(a.cwd) : process.cwd();
    const env = Object.assign({}, a.env || {}, (envName && a['env_' + envName]) || {});
    return {
      name: str(a.name),
      cwd: cwd,
      script: a.script ? path.resolve(cwd, String(a.script)) : '',
      exec_mode: String(a.exec_mode || a.execMode || (a.instances ? 'cluster' : 'fork')),
      instances: str(a.instances),
      port: str(env.PORT),
      hostname: str(env.HOSTNAME),
      listen_timeout: str(a.listen_timeout),
      kill_timeout: str(a.kill_timeout),
      max_memory_restart: str(a.max_memory_restart),
      drain_ms: str(env.NEXT_DEPLOY_DRAIN_MS),
    };
  }),
}) + '\n');
