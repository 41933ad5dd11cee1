// inspect.cjs prints the apps of the ecosystem file argv[1] as JSON,
// with cwd and script resolved the way pm2 resolves them (relative to the
// directory pm2 runs in; symlinks are not resolved). Run by inspect.sh
// with node -e.
const path = require('path');
let c = require(path.resolve(process.argv[1]));
const apps = Array.isArray(c) ? c : (c && Array.isArray(c.apps) ? c.apps : [c]);
process.stdout.write(JSON.stringify(apps.map((a) => {
  const cwd = a.cwd ? path.resolve(a.cwd) : process.cwd();
  return {
    name: String(a.name || ''),
    cwd: cwd,
    script: a.script ? path.resolve(cwd, String(a.script)) : '',
    exec_mode: String(a.exec_mode || a.execMode || (a.instances ? 'cluster' : 'fork')),
  };
})) + '\n');
