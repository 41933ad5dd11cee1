// status.cjs reads pm2 jlist on stdin and prints the fields we use (not
// the environment: it may hold secrets) plus /proc/<pid>/cwd. With a
// memory report directory argv[1] ("" for none), each worker's report
// (<dir>/<pid>.json, written by the drain preload) comes along and the
// reports of dead processes are removed. Run with node -e.
const fs = require('fs');
const memDir = process.argv[1] || '';
const withMem = memDir !== '';
let s = '';
process.stdin.on('data', (d) => { s += d; }).on('end', () => {
  let list = null;
  for (const line of s.split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try { list = JSON.parse(line); break; } catch (e) { /* a banner line */ }
  }
  if (!list) {
    console.error('pm2 jlist gave no process list: ' + s.slice(0, 300));
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(list.map((p) => {
    const e = p.pm2_env || {};
    let real = '';
    try { if (p.pid) real = fs.readlinkSync('/proc/' + p.pid + '/cwd'); } catch (err) { /* gone */ }
    let mem = null;
    if (withMem && p.pid) {
      try { mem = JSON.parse(fs.readFileSync(memDir + '/' + p.pid + '.json', 'utf8')); } catch (err) { /* none */ }
    }
    return {
      id: p.pm_id, name: p.name, pid: p.pid || 0, status: e.status || '',
      restarts: e.restart_time || 0, unstable: e.unstable_restarts || 0,
      mode: e.exec_mode || '', cwd: e.pm_cwd || '', script: e.pm_exec_path || '', real_cwd: real,
      rss: (p.monit && p.monit.memory) || 0, started_ms: e.pm_uptime || 0, mem: mem,
      listen_timeout_ms: Number(e.listen_timeout) || 0,
      // A kept app's window (skew protection): not a secret.
      skew_until_ms: Number(e.NEXT_DEPLOY_SKEW_UNTIL || (e.env && e.env.NEXT_DEPLOY_SKEW_UNTIL)) || 0,
    };
  })) + '\n');
  if (withMem) {
    // Reports of processes that died without removing theirs (SIGKILL).
    try {
      for (const f of fs.readdirSync(memDir)) {
        const pid = parseInt(f, 10);
        if (pid > 0 && !fs.existsSync('/proc/' + pid)) fs.unlinkSync(memDir + '/' + f);
      }
    } catch (err) { /* no reports */ }
  }
});
