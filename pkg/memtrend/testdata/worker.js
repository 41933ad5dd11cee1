'use strict';
// A stand-in for a Next worker, for memtrend's checks on a real V8 heap:
// started with the drain preload (which reports process.memoryUsage()),
// it fills caches in a warm-up and serves loads of simulated requests,
// each allocating like the fixture's /api/test-memory routes (an object
// with a 1000-character string per KiB), dropping its garbage 50 ms later
// and keeping its leak for ever. It runs until killed.
//
// argv[2] is JSON, times in seconds from the start: {warmMB, warmS,
// loads: [{from, to, rate, garbageKB, leakKB}]}.
const cfg = JSON.parse(process.argv[2]);
const t0 = Date.now();
const now = () => (Date.now() - t0) / 1000;

// Caches, requests and the leak allocate at their own sites, as an app's
// code does: V8 decides per site whether to allocate straight in the old
// generation (pretenuring), after seeing most of a site's objects
// survive. One site for all would make the request garbage go there
// after the warm-up, and ramp until a mark-compact.
function cacheEntry(kb, tag) {
  const out = [];
  for (let i = 0; i < kb; i++) out.push({ tag, i, body: 'c'.repeat(1000) + i });
  return out;
}

function request(kb, tag) {
  const out = [];
  for (let i = 0; i < kb; i++) out.push({ tag, n: i, text: 'r'.repeat(1000) + i });
  return out;
}

function leak(kb, tag) {
  const out = [];
  for (let i = 0; i < kb; i++) out.push({ tag, k: i, data: 'l'.repeat(1000) + i });
  return out;
}

const cache = [];
const leaked = [];
let warmed = 0;
const due = cfg.loads.map(() => 0);

setInterval(() => {
  const s = now();
  if (cfg.warmMB > 0 && warmed < cfg.warmMB) {
    const want = cfg.warmMB * Math.min(1, (1 - Math.exp((-3 * s) / cfg.warmS)) / (1 - Math.exp(-3)));
    for (; warmed < want; warmed++) cache.push(cacheEntry(1024, 'cache ' + warmed));
  }
  cfg.loads.forEach((l, k) => {
    if (s < l.from || s >= l.to) return;
    due[k] += l.rate / 100;
    for (; due[k] >= 1; due[k]--) {
      const garbage = request(l.garbageKB, 'request ' + Date.now());
      setTimeout(() => JSON.stringify(garbage.slice(0, 2)), 50);
      if (l.leakKB > 0) leaked.push(leak(l.leakKB, 'leak ' + Date.now()));
    }
  });
}, 10);
