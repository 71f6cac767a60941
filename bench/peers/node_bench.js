// Node.js, written idiomatically: async functions, Promise.all / allSettled.
'use strict';
const fs = require('fs');
const QUICK = !['', '0', undefined].includes(process.env.BENCH_QUICK);
const scale = (n) => (QUICK ? Math.floor(n / 10) : n);
const SYS = 'node';
const now = () => process.hrtime.bigint();
const emit = (bench, value, unit) =>
  console.log(JSON.stringify({ bench, system: SYS, value: Math.round(value * 1000) / 1000, unit }));
const rss = () => Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
// Cancellation: a scope keeps its pending sleeps (AbortSignal listeners are
// O(n) each to add, which makes 1M of them quadratic).
class Scope {
  constructor() { this.pending = new Set(); this.cancelled = false; }
  cancel() { this.cancelled = true; for (const p of this.pending) p.cancel(); this.pending.clear(); }
}
const sleep = (ms, scope) => new Promise((resolve, reject) => {
  if (scope && scope.cancelled) return reject(new Error('cancelled'));
  const entry = {};
  const t = setTimeout(() => { if (scope) scope.pending.delete(entry); resolve(); }, ms);
  entry.cancel = () => { clearTimeout(t); reject(new Error('cancelled')); };
  if (scope) scope.pending.add(entry);
});

async function sw() {
  const half = Math.floor(scale(10_000_000) / 2);
  const yielder = async () => { for (let i = 0; i < half; i++) await null; };
  const t0 = now();
  await Promise.all([yielder(), yielder()]);
  emit('switch', Number(now() - t0) / (2 * half), 'ns');
}

async function nop() { return null; }

async function spawnJoin() {
  const n = scale(1_000_000);
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = nop();
  await Promise.all(ps);
  emit('spawn_join', Number(now() - t0) / n, 'ns');
}

async function gather() {
  const n = scale(1_000_000);
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = nop();
  await Promise.allSettled(ps);
  emit('gather', Number(now() - t0) / n, 'ns');
}

async function timers() {
  const n = scale(100_000);
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = sleep(10);
  await Promise.all(ps);
  emit('timers', Number(now() - t0) / 1e6 - 10, 'ms');
}

async function failFast() {
  // Fail-fast as a structured group: an AbortController cancels the rest,
  // and we wait until every task has settled.
  const n = scale(100_000);
  const scope = new Scope();
  let tFail = 0n;
  const ps = [];
  for (let i = 0; i < n; i++) ps.push(sleep(3_600_000, scope));
  ps.push((async () => { await sleep(1); tFail = now(); throw new Error('boom'); })());
  const guarded = ps.map((p) => p.catch((e) => { scope.cancel(); throw e; }));
  await Promise.allSettled(guarded);
  emit('fail_fast', Number(now() - tFail) / 1e6, 'ms');
}

async function hold() {
  const n = scale(1_000_000);
  const scope = new Scope();
  const rss0 = rss();
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = (async () => { await sleep(3_600_000, scope); })();
  await null;
  const t1 = now();
  const rss1 = rss();
  emit('hold', n, 'tasks');
  emit('hold_rss', (rss1 - rss0) / n, 'bytes');
  emit('hold_create', Number(t1 - t0) / n, 'ns');
  scope.cancel();
  await Promise.allSettled(ps);
}

async function gatherLimit() {
  const n = scale(100_000);
  let active = 0;
  const queue = [];
  const acquire = () => (active < 100 ? (active++, Promise.resolve()) : new Promise((r) => queue.push(r)));
  const release = () => { const next = queue.shift(); if (next) next(); else active--; };
  const short = async () => { await acquire(); try { await null; } finally { release(); } };
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = short();
  await Promise.all(ps);
  emit('gather_limit', Number(now() - t0) / 1e6, 'ms');
}

async function echo() {
  const net = require('net');
  const conns = QUICK ? 100 : 1000;
  const server = net.createServer((c) => { c.setNoDelay(true); c.pipe(c); });
  server.maxConnections = 100000;
  await new Promise((r) => server.listen(0, '127.0.0.1', 4096, r));
  const port = server.address().port;
  const client = () => new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    c.setNoDelay(true);
    const msg = Buffer.alloc(64, 120);
    let got = 0, round = 0;
    c.on('connect', () => c.write(msg));
    c.on('data', (d) => {
      got += d.length;
      while (got >= 64) {
        got -= 64;
        if (++round === 100) { c.end(); c.destroy(); return resolve(); }
        c.write(msg);
      }
    });
    c.on('error', reject);
  });
  const t0 = now();
  const ps = [];
  for (let i = 0; i < conns; i++) ps.push(client());
  await Promise.all(ps);
  emit('echo', Number(now() - t0) / 1e6, 'ms');
  server.close();
}

// http_fanout: N GETs of HTTP_FANOUT_URL by 100 async workers with the
// built-in fetch (undici: keep-alive pool per origin).
const statusKB = (key) => {
  const l = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((x) => x.startsWith(key));
  return l ? parseInt(l.slice(key.length), 10) : 0;
};
async function httpFanout() {
  const url = process.env.HTTP_FANOUT_URL;
  if (!url) return;
  const conc = 100, total = QUICK ? 1000 : 10000;
  const get = async () => {
    const r = await fetch(url);
    const b = await r.arrayBuffer();
    return r.status === 200 && b.byteLength === 1024;
  };
  await get();
  const lat = new Float64Array(total);
  let next = 0, failures = 0;
  const rss0 = statusKB('VmRSS:');
  const t0 = now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const s = now();
      try { if (!(await get())) failures++; } catch (e) { failures++; }
      lat[i] = Number(now() - s);
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  const secs = Number(now() - t0) / 1e9;
  const hwm = statusKB('VmHWM:');
  if (failures) { console.error(`node http_fanout: ${failures} failed`); return; }
  lat.sort();
  emit('http_fanout', total / secs, 'req/s');
  emit('http_fanout_p50', lat[total >> 1] / 1e3, 'us');
  emit('http_fanout_p99', lat[Math.floor(total * 99 / 100)] / 1e3, 'us');
  emit('http_fanout_mem', (hwm - rss0) * 1024 / conc, 'bytes');
}

// subprocess: child_process.spawn of `true` with stdio 'ignore'
// (/dev/null), resolved on 'exit', one at a time and 8 in flight.
const { spawn } = require('child_process');
const runTrue = () => new Promise((resolve, reject) => {
  const c = spawn('true', [], { stdio: 'ignore' });
  c.on('error', reject);
  c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
});
async function subprocessN(conc, name) {
  const n = scale(1000);
  await runTrue();
  let left = n;
  const t0 = now();
  const worker = async () => { while (left > 0) { left--; await runTrue(); } };
  await Promise.all(Array.from({ length: conc }, worker));
  emit(name, Number(now() - t0) / n / 1e3, 'us');
}
const subprocess1 = () => subprocessN(1, 'subprocess');
const subprocess8 = () => subprocessN(8, 'subprocess_8');

const CASES = { switch: sw, spawn_join: spawnJoin, gather, timers, fail_fast: failFast, hold, gather_limit: gatherLimit, echo, http_fanout: httpFanout, subprocess: subprocess1, subprocess_8: subprocess8 };
(async () => {
  const want = process.argv.slice(2);
  for (const [name, fn] of Object.entries(CASES)) if (!want.length || want.includes(name)) await fn();
})();
