'use strict';
// next-deploy drain preload, loaded into every worker with
// `node --require <deploy root>/.next-deploy/drain.cjs` (the ecosystem's
// node_args). It makes any Node HTTP server leave without failing a request
// when pm2 replaces the worker during a reload:
//
//   1. Readiness: once the first HTTP server listens it sends 'ready' to pm2
//      (wait_ready), so pm2 stops the old worker only when the new one
//      accepts connections.
//   2. Drain on SIGINT / SIGTERM (or pm2's 'shutdown' message): for
//      NEXT_DEPLOY_DRAIN_MS (1 s) it keeps answering, every response with
//      `Connection: close`, so a proxy holding keep-alive connections (nginx
//      upstream keepalive) stops reusing them instead of sending a request
//      into a socket that is being closed (a POST is not retried: it fails).
//      Then it stops listening, closes idle connections, waits for in-flight
//      requests (at most NEXT_DEPLOY_DRAIN_TIMEOUT_MS) and exits.
//
//   3. Memory report: every NEXT_DEPLOY_MEM_MS (1000; 0 turns it off) it
//      writes process.memoryUsage() to mem/<pid>.json next to this file
//      (temporary file, then rename): the last two minutes at that pace and
//      the last half hour every 10th sample. next-deploy status and
//      activate --watch read it to tell a leak from warm-up. The file goes
//      when the process exits. It also says whether the app listens yet
//      (ready, written at once when it starts to): activate's reload gives
//      up on a new worker that does not before pm2's listen_timeout.
//   4. Heap snapshots (node --heapsnapshot-signal): node writes the snapshot
//      from a signal listener that throws when it cannot write (no
//      --diagnostic-dir, a full disk), which kills the worker. The listener
//      is wrapped: a failed snapshot is logged and its partial file
//      removed; the diagnostic dir is created at start.
//   5. A kept app of skew protection (next-deploy's docs/skew.md): with
//      NEXT_DEPLOY_LISTEN_PATH the app's first HTTP server listens on that
//      unix socket instead of HOSTNAME:PORT (its directory created, a stale
//      socket left by a crash removed first; the socket is made writable
//      for nginx's user), and with NEXT_DEPLOY_SKEW_UNTIL (ms since the
//      epoch) the worker removes the socket and its directory (nginx then
//      routes to current), drains and exits when that time comes, or at
//      once when it has passed (pm2 started it again after a reboot): pm2
//      leaves it stopped (stop_exit_codes). No daemon or timer outside the
//      app is needed.
//   6. Leaving the cluster: a pm2 cluster worker that is done draining
//      tells the primary it leaves (cluster.worker.disconnect) and exits
//      only once the primary has answered. See leaveCluster.
//   7. Answers by status class (1xx to 5xx), counted since the worker
//      started, in the memory report: activate --canary reads them to
//      count the 5xx a new release answers to real traffic.
//
// Nothing here may take the app down: every step that touches the file
// system is guarded, and the timers do not keep the process alive.
//
// Next's standalone server exits at once on SIGINT unless
// NEXT_MANUAL_SIG_HANDLE is set. Instead of relying on that variable, the
// SIGINT/SIGTERM handlers the app registers are held back and run after the
// drain, so the app's own cleanup still happens, later.
const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');
const net = require('net');

// A pm2 cluster worker starts with its environment in pm2_env (JSON);
// pm2's container copies it into process.env only after this preload
// ran. Every setting below is read with envVar: from process.env (pm2's
// fork mode, or no pm2), else from pm2_env. (Read from process.env
// alone, a cluster worker always had the defaults: the ecosystem's
// drain and kill timeout were never used.)
let pm2Env = null;
function envVar(name) {
  if (process.env[name] !== undefined) return process.env[name];
  if (pm2Env === null) {
    try {
      pm2Env = JSON.parse(process.env.pm2_env || '{}') || {};
    } catch (err) {
      pm2Env = {};
    }
  }
  const v = pm2Env[name] !== undefined ? pm2Env[name] : (pm2Env.env || {})[name];
  return v === undefined || v === null ? '' : String(v);
}

const closeAfter = ms(envVar('NEXT_DEPLOY_DRAIN_MS'), 1000);
const giveUpAfter = ms(envVar('NEXT_DEPLOY_DRAIN_TIMEOUT_MS'), 6000);
const exitGrace = 1000;
const SIGNALS = ['SIGINT', 'SIGTERM'];
const listenPath = envVar('NEXT_DEPLOY_LISTEN_PATH');
let listenMoved = false;
const servers = new Set();
const answers = [0, 0, 0, 0, 0]; // 1xx ... 5xx answered (7.)
const held = []; // [signal, listener] the app registered
let readySent = false;
let listening = false; // a server of the app listens (reported as ready)
let draining = false;
let finished = false;

function ms(v, d) {
  const n = parseInt(v, 10);
  return Number.isFinite(n) && n >= 0 ? n : d;
}

function log(msg) {
  process.stderr.write(`next-deploy drain [pid ${process.pid}]: ${msg}\n`);
}

function track(server) {
  if (servers.has(server)) return;
  servers.add(server);
  const active = new Set();
  server.nextDeployActive = active;
  server.prependListener('request', (req, res) => {
    if (draining) res.setHeader('Connection', 'close');
    active.add(res);
    res.once('finish', () => countAnswer(res));
    const done = () => active.delete(res);
    res.once('finish', done);
    res.once('close', done);
  });
  server.once('listening', () => {
    if (!listening) {
      listening = true;
      // The report says so at once: a reload watching it gives up on a
      // worker that never gets here (next-deploy's pm2.Site.Unready).
      if (memEvery > 0) sampleMemory();
    }
    if (readySent || typeof process.send !== 'function') return;
    readySent = true;
    process.send('ready');
  });
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function nextDeployListen(...args) {
  if (this instanceof http.Server || this instanceof https.Server) {
    track(this);
    if (listenPath && !listenMoved) {
      listenMoved = true;
      return listenOnPath(this, args);
    }
  }
  return listen.apply(this, args);
};

function drain(why) {
  if (draining) return;
  draining = true;
  log(`${why}: answering with Connection: close for ${closeAfter} ms, then closing`);
  for (const s of servers) {
    for (const res of s.nextDeployActive) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    }
  }
  setTimeout(stopListening, closeAfter);
  setTimeout(() => {
    log(`in-flight requests still open after ${giveUpAfter} ms: exiting anyway`);
    finish();
  }, giveUpAfter).unref();
}

function stopListening() {
  let pending = 0;
  for (const s of servers) {
    if (!s.listening) continue;
    pending++;
    s.close(() => {
      if (--pending === 0) finish();
    });
    if (typeof s.closeIdleConnections === 'function') s.closeIdleConnections();
  }
  if (pending === 0) finish();
}

function finish() {
  if (finished) return;
  finished = true;
  log('drained');
  leaveCluster(runHeld);
}

function runHeld() {
  // The app's own handlers (Next's cleanup) run now; if they do not exit,
  // we do.
  for (const [sig, fn] of held) {
    try {
      fn.call(process, sig);
    } catch (err) {
      log(`the app's ${sig} handler failed: ${err && err.stack}`);
    }
  }
  setTimeout(() => process.exit(0), exitGrace).unref();
}

// Hold back the app's signal handlers; ours are the only ones installed.
const on = process.on.bind(process);
for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']) {
  const orig = process[method];
  process[method] = function nextDeployHoldSignal(event, fn) {
    if (SIGNALS.includes(event) && typeof fn === 'function') {
      held.push([event, fn]);
      return process;
    }
    return orig.call(process, event, fn);
  };
}
for (const method of ['off', 'removeListener']) {
  const orig = process[method];
  process[method] = function nextDeployReleaseSignal(event, fn) {
    if (SIGNALS.includes(event)) {
      const i = held.findIndex(([sig, f]) => sig === event && f === fn);
      if (i >= 0) held.splice(i, 1);
      return process;
    }
    return orig.call(process, event, fn);
  };
}
for (const sig of SIGNALS) on(sig, () => drain(sig));
on('message', (msg) => {
  if (msg === 'shutdown') drain('shutdown message');
});

function execArg(name) {
  for (const a of process.execArgv) {
    if (a.startsWith(name + '=')) return a.slice(name.length + 1);
  }
  const i = process.execArgv.indexOf(name);
  return i >= 0 && i + 1 < process.execArgv.length ? process.execArgv[i + 1] : '';
}

const heapSignal = execArg('--heapsnapshot-signal');
const diagnosticDir = heapSignal ? path.resolve(execArg('--diagnostic-dir') || process.cwd()) : '';

// 3. Memory report.
const memEvery = ms(envVar('NEXT_DEPLOY_MEM_MS'), 1000);
const FINE = 120; // samples at memEvery (two minutes at 1 s)
const COARSE = 180; // every 10th sample (half an hour at 1 s)
const memDir = envVar('NEXT_DEPLOY_MEM_DIR') || path.join(__dirname, 'mem');
const memFile = path.join(memDir, process.pid + '.json');
const fine = [];
const coarse = [];
let memSamples = 0;
let memErrors = 0;
let memTimer = null;

// The heap limit is fixed at start (--max-old-space-size): read it once.
const heapLimit = (() => {
  try {
    return require('v8').getHeapStatistics().heap_size_limit;
  } catch (err) {
    return 0;
  }
})();

function sampleMemory() {
  try {
    const m = process.memoryUsage();
    const s = [Date.now(), m.rss, m.heapUsed, m.heapTotal, m.external];
    fine.push(s);
    if (fine.length > FINE) fine.shift();
    if (memSamples++ % 10 === 0) {
      coarse.push(s);
      if (coarse.length > COARSE) coarse.shift();
    }
    if (memSamples === 1) fs.mkdirSync(memDir, { recursive: true });
    // pm2 sets process.title, which hides node's options from
    // /proc/<pid>/cmdline: heap-snapshot learns them here.
    const doc = JSON.stringify({
      v: 1, pid: process.pid, pm_id: process.env.pm_id === undefined ? null : String(process.env.pm_id), ready: listening,
      every: memEvery, heap_limit: heapLimit, heap_signal: heapSignal, diagnostic_dir: diagnosticDir, answers: answers,
      coarse: coarse, fine: fine,
    });
    const tmp = memFile + '.tmp';
    fs.writeFileSync(tmp, doc);
    fs.renameSync(tmp, memFile);
    memErrors = 0;
  } catch (err) {
    if (memErrors++ === 0) log(`memory report to ${memFile} failed: ${err && err.message}`);
    if (memErrors >= 10 && memTimer) {
      clearInterval(memTimer);
      log('memory report stopped after 10 failures in a row');
    }
  }
}

if (memEvery > 0) {
  sampleMemory();
  memTimer = setInterval(sampleMemory, memEvery);
  memTimer.unref();
  process.on('exit', () => {
    try {
      fs.unlinkSync(memFile);
    } catch (err) { /* never written, or gone */ }
  });
}

// 4. Heap snapshots.
if (heapSignal && !SIGNALS.includes(heapSignal)) {
  try {
    fs.mkdirSync(diagnosticDir, { recursive: true });
  } catch (err) {
    log(`cannot create the diagnostic dir ${diagnosticDir}: ${err && err.message}`);
  }
  for (const fn of process.listeners(heapSignal)) {
    process.removeListener(heapSignal, fn);
    on(heapSignal, function nextDeployHeapSnapshot(...args) {
      try {
        fn.apply(process, args);
      } catch (err) {
        log(`heap snapshot on ${heapSignal} failed: ${err && err.message}`);
        if (err && err.path) {
          try {
            fs.unlinkSync(err.path);
          } catch (e) { /* not written */ }
        }
      }
    });
  }
}

// 5. Skew protection: a kept app listens on a unix socket until its time.
// nginx routes to it while the socket's directory exists.
function listenOnPath(server, args) {
  const cb = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : null;
  server.once('listening', () => {
    try {
      fs.chmodSync(listenPath, 0o666);
    } catch (err) {
      log(`cannot open ${listenPath} to nginx: ${err && err.message}`);
    }
  });
  const go = () => (cb ? listen.call(server, { path: listenPath }, cb) : listen.call(server, { path: listenPath }));
  try {
    fs.mkdirSync(path.dirname(listenPath), { recursive: true, mode: 0o755 });
  } catch (err) {
    log(`cannot create the directory of ${listenPath}: ${err && err.message}`);
  }
  // A socket file nobody answers on (its server died without closing) makes
  // listen fail; one that answers belongs to a sibling worker, whose socket
  // the cluster shares: leave it.
  if (!fs.existsSync(listenPath)) {
    go();
    return server;
  }
  const probe = net.connect({ path: listenPath });
  probe.once('connect', () => {
    probe.destroy();
    go();
  });
  probe.once('error', () => {
    try {
      fs.unlinkSync(listenPath);
      log(`removed the stale socket ${listenPath}`);
    } catch (err) { /* gone already */ }
    go();
  });
  return server;
}

// unroute takes the kept app out of nginx's routing: its socket and the
// directory nginx looks for go (rmdir: only when nothing else is in it).
function unroute() {
  if (!listenPath) return;
  for (const rm of [() => fs.unlinkSync(listenPath), () => fs.rmdirSync(path.dirname(listenPath))]) {
    try {
      rm();
    } catch (err) { /* gone already, or not ours to remove */ }
  }
}

const skewUntil = parseInt(envVar('NEXT_DEPLOY_SKEW_UNTIL'), 10);
if (Number.isFinite(skewUntil) && skewUntil > 0) {
  if (skewUntil <= Date.now()) {
    log('the skew window is over: not starting');
    unroute();
    process.exit(0);
  }
  const check = () => {
    const rest = skewUntil - Date.now();
    if (rest > 0) {
      setTimeout(check, Math.min(rest, 0x7fffffff)).unref();
      return;
    }
    // New requests go to current from now on; the ones in flight finish.
    unroute();
    drain('the skew window is over');
  };
  check();
}

// 6. Leaving the cluster.
//
// In pm2's cluster mode the primary (pm2's daemon) accepts every
// connection and hands it to a worker over the IPC channel. Closing the
// worker's server sends the primary a 'close' message, but a connection
// the primary handed over before reading it is still on its way; the
// worker refuses it (Node sends it back to another worker) only if it is
// alive to read it. A worker that exits at once after its server closes
// (Next's SIGINT handler calls process.exit) takes such a connection down
// with it, while the primary keeps its end open: the client waits for
// headers that never come (issue 15: a GET hung for more than 10 s, once
// in ~24,000 requests; more often the busier pm2's daemon is).
// cluster.worker.disconnect() is a round trip on the same ordered
// channel: the primary answers after it has read the 'close', and every
// connection it handed over before that reaches this worker, and is sent
// back, before the answer. Only then do the app's handlers run and the
// worker exit. leaveAfter bounds the wait (a primary that does not
// answer, a server still open after giveUpAfter): the primary answers in
// milliseconds, and giveUpAfter + leaveAfter + exitGrace must stay within
// pm2's kill_timeout (8 s from config pm2), after which pm2 kills.
const leaveAfter = ms(envVar('NEXT_DEPLOY_LEAVE_TIMEOUT_MS'), 1000);

function leaveCluster(then) {
  let cluster = null;
  try {
    cluster = require('cluster');
  } catch (err) { /* no cluster module: nothing to leave */ }
  if (!cluster || !cluster.isWorker || !cluster.worker || !process.connected) {
    then();
    return;
  }
  let left = false;
  const go = (why) => {
    if (left) return;
    left = true;
    clearTimeout(timer);
    if (why) log(why);
    then();
  };
  // Not unref'd: the app's handlers must still run if nothing else is
  // left to keep the process alive.
  const timer = setTimeout(() => go(`the cluster primary did not answer within ${leaveAfter} ms: leaving anyway`), leaveAfter);
  process.once('disconnect', () => go(''));
  try {
    cluster.worker.disconnect();
  } catch (err) {
    go(`leaving the cluster failed: ${err && err.message}`);
  }
}

// 7. Answers by status class (answers, declared at the top: the memory
// report carries them from its first sample, at its pace).
function countAnswer(res) {
  const c = Math.floor(res.statusCode / 100);
  if (c >= 1 && c <= 5) answers[c - 1]++;
}
