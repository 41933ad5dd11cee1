// status.cjs prints the fields we use of pm2's process list (not the
// environment: it may hold secrets) plus /proc/<pid>/cwd. With a memory
// report directory argv[1] ("" for none), each worker's report
// (<dir>/<pid>.json, written by the drain preload) comes along and the
// reports of dead processes are removed. Run with node -e.
//
// With argv[2] = "rpc:<pm2's install dir>" it asks pm2's daemon itself,
// over its RPC socket with pm2's own client modules (what pm2 jlist does
// after loading the whole CLI): one small node process instead of pm2's
// CLI and this one, which is most of what a look at the workers costs
// (issue 15 item 3). When that cannot be done (the modules are not
// where pm2 keeps them, no daemon answers) it exits 3 having printed
// nothing, and the caller pipes pm2 jlist in instead (argv[2] absent).
const fs = require('fs');
const path = require('path');
const memDir = process.argv[1] || '';
const withMem = memDir !== '';
const via = process.argv[2];
if (process.argv[3] === 'looks') {
  looks(via.replace(/^rpc:/, ''));
} else if (via !== undefined) {
  fromDaemon(via.replace(/^rpc:/, ''));
} else {
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
    print(list);
  });
}

// fromDaemon asks pm2's daemon for its process list (getMonitorData, as
// pm2 jlist does), or exits 3 having printed nothing.
function fromDaemon(dir) {
  const req = connect(dir, () => process.exit(3));
  call(req, () => process.exit(3), () => req.close());
}

// looks (argv[3] = "looks") keeps one connection to the daemon and prints
// a list at once, then answers each line read on stdin, until stdin
// ends: an empty line asks for one more list, "save" saves the process
// list (save), answering SAVED. A watcher's many looks, and the save
// after its reload, cost one program start. "NO" instead of an answer:
// it cannot ask the daemon (any more), and exits 3.
function looks(dir) {
  const no = () => {
    process.stdout.write('NO\n', () => process.exit(3));
  };
  const req = connect(dir, no);
  let busy = false;
  const asked = [''];
  let ended = false;
  const next = () => {
    if (!busy && asked.length === 0 && ended) process.exit(0);
    if (busy || asked.length === 0) return;
    busy = true;
    const then = () => {
      busy = false;
      next();
    };
    if (asked.shift() === 'save') {
      save(req, no, then);
    } else {
      call(req, no, then);
    }
  };
  next();
  let buf = '';
  process.stdin.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    asked.push(...lines);
    next();
  }).on('end', () => {
    ended = true;
    next();
  });
}

// save does what pm2 save does (pm2's CLI.dump, from getMonitorData):
// each app's pm2_env but its instances and pm_id, modules left out,
// written as JSON to dump.pm2 next to the daemon's rpc.sock, the file
// before kept as dump.pm2.bak; an empty list leaves the file as it is,
// as pm2 save does. Unlike pm2 it writes a temporary file and renames
// it, so the dump is never half written. It answers SAVED, or "SAVE
// <why>" when the file could not be written.
function save(req, fail, done) {
  if (!req) return;
  ask(req, fail, (list) => {
    const envs = [];
    for (const p of list) {
      const e = p.pm2_env;
      if (!e || e.pmx_module) continue;
      delete e.instances;
      delete e.pm_id;
      envs.push(e);
    }
    const dump = path.join(home(), 'dump.pm2');
    let answer = 'SAVED';
    try {
      if (envs.length > 0) {
        if (fs.existsSync(dump)) fs.copyFileSync(dump, dump + '.bak');
        const tmp = dump + '.tmp.' + process.pid;
        fs.writeFileSync(tmp, JSON.stringify(envs, '', 2));
        fs.renameSync(tmp, dump);
      }
    } catch (e) {
      answer = 'SAVE ' + String(e.message || e).replace(/\n/g, ' ');
    }
    process.stdout.write(answer + '\n');
    done();
  });
}

// connect opens a req socket to pm2's daemon with the client modules of
// the pm2 installed in dir; fail is called when it cannot.
function connect(dir, fail) {
  const load = (name) => {
    for (const d of ['modules', 'node_modules']) {
      try {
        return require(path.join(dir, d, name));
      } catch (e) { /* not there */ }
    }
    return null;
  };
  const axon = dir ? load('pm2-axon') : null;
  const rpc = dir ? load('pm2-axon-rpc') : null;
  const sock = path.join(home(), 'rpc.sock');
  if (!axon || !rpc || !fs.existsSync(sock)) {
    fail();
    return null;
  }
  const req = axon.socket('req');
  req.on('socket error', fail);
  req.on('error', fail);
  req.nextDeployClient = new rpc.Client(req);
  req.connect(sock);
  return req;
}

// home is pm2's home: where its daemon's socket and dump are.
function home() {
  return process.env.PM2_HOME || path.join(require('os').homedir(), '.pm2');
}

// call asks for the process list once and prints it, then calls done;
// fail when the daemon does not answer (within 20 s) or answers an error.
function call(req, fail, done) {
  if (!req) return;
  ask(req, fail, (list) => {
    print(list);
    done();
  });
}

// ask gets the daemon's process list (getMonitorData) for got; fail
// when the daemon does not answer (within 20 s) or answers an error.
function ask(req, fail, got) {
  const timer = setTimeout(fail, 20000);
  timer.unref();
  req.nextDeployClient.call('getMonitorData', {}, (err, list) => {
    clearTimeout(timer);
    if (err || !Array.isArray(list)) {
      fail();
      return;
    }
    got(list);
  });
}

function print(list) {
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
}
