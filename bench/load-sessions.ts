// Load script for the proxy's session timers (issue 3, bar 11): 10,000 concurrent sessions in
// one process on the real clock, deadlines a few seconds out, a stream of activity reports
// moving them, warnings and ends firing through the one scheduler timer. Prints the memory
// per session (heap delta / n) and how late deadlines fire (p50/p99/max). Not a test: it
// asserts nothing about speed, it reports.
//
//   node bench/load-sessions.ts [--sessions 10000] [--json]
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { systemClock } from '../proxy/session/Clock.ts';
import { parsePolicies } from '../proxy/session/Policy.ts';
import { SessionTimers } from '../proxy/session/SessionTimers.ts';
import type { EndReason } from '../common/closeCodes.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(values.sessions);
if (!Number.isSafeInteger(n) || n < 1 || n > 1_000_000) throw new Error('--sessions must be an integer in 1..1000000');

function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const gc = collector();
const settle = (): number => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};

// Short real durations: every session warns and ends within ~15 s of the start.
const policies = parsePolicies({ default: { idleTimeout: '8s', maxDuration: '15s', warnBefore: '2s', maxRenewals: 5 } });
const counts = { warnings: 0, states: 0, persisted: 0, persistBatches: 0, activity: 0, renews: 0 };
const ended: Record<EndReason, number> = { idle: 0, absolute: 0, revoked: 0, logout: 0, replaced: 0, error: 0 };

const heapBefore = settle();
const timers = new SessionTimers({
  clock: systemClock,
  policies,
  persist: (batch) => {
    counts.persistBatches++;
    counts.persisted += batch.length;
  },
  scheduler: { latenessSamples: 200_000 },
});
timers.on('warning', () => counts.warnings++);
timers.on('state', () => counts.states++);
timers.on('ended', (_id, reason) => ended[reason]++);

const start = Date.now();
const ids: string[] = [];
for (let i = 0; i < n; i++) {
  const id = `sess-${i.toString(36).padStart(6, '0')}-${Math.random().toString(36).slice(2, 10)}`;
  ids.push(id);
  // Random: last input 0-4 s ago (idle deadline 4-8 s out, its warning 2-6 s out), absolute
  // 8-14 s out. Nothing is due while the sessions are added and the heap is measured.
  timers.add({
    id,
    user: `user${i % 500}`,
    startedAt: start,
    absoluteDeadline: start + 8_000 + Math.floor(Math.random() * 6_000),
    lastActivityAt: start - Math.floor(Math.random() * 4_000),
  });
}
await new Promise<void>((resolve) => setImmediate(resolve)); // let the persist batch go out
const heapAfter = settle();
const setupMs = Date.now() - start;
const bytesPerSession = (heapAfter - heapBefore) / n;

// Activity: every 200 ms a random tenth of the live sessions reports input 0-3 s ago; a few renew.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let activityMs = 0;
const activity = setInterval(() => {
  const t0 = performance.now();
  for (let k = 0; k < n / 10; k++) {
    const id = ids[Math.floor(Math.random() * n)];
    if (id === undefined || !timers.has(id)) continue;
    timers.activity(id, { idleMs: Math.floor(Math.random() * 3_000), locked: false });
    counts.activity++;
    if (Math.random() < 0.02) {
      try {
        timers.renew(id);
        counts.renews++;
      } catch {
        // RENEWAL_LIMIT: expected for some; the session carries on.
      }
    }
  }
  activityMs += performance.now() - t0;
}, 200);

// Bounded: everything ends by maxDuration (15 s); give up after 30 s regardless.
const deadline = Date.now() + 30_000;
await new Promise<void>((resolve) => {
  const poll = setInterval(() => {
    if (timers.size === 0 || Date.now() > deadline) {
      clearInterval(poll);
      resolve();
    }
  }, 100);
});
clearInterval(activity);
loopDelay.disable();
const left = timers.size;
const lateness = timers.lateness();
timers.close();

const report = {
  sessions: n,
  heapBytesPerSession: Math.round(bytesPerSession),
  lateness: { fired: lateness.count, p50Ms: lateness.p50Ms, p99Ms: lateness.p99Ms, maxMs: lateness.maxMs, targetP99Ms: 100 },
  eventLoopDelay: { p50Ms: +(loopDelay.percentile(50) / 1e6).toFixed(1), p99Ms: +(loopDelay.percentile(99) / 1e6).toFixed(1) },
  activityReports: counts.activity,
  activityCpuMsPerReport: counts.activity > 0 ? +(activityMs / counts.activity).toFixed(4) : 0,
  renews: counts.renews,
  warnings: counts.warnings,
  stateEvents: counts.states,
  persisted: { rows: counts.persisted, batches: counts.persistBatches },
  ended,
  stillLiveAtExit: left,
  setupMs,
  wallSeconds: +((Date.now() - start) / 1000).toFixed(1),
};

if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(`session timers under load: ${n} concurrent sessions, real clock`);
  console.log(`  memory        ${report.heapBytesPerSession} bytes of heap per session (added and measured in ${setupMs} ms)`);
  console.log(`  lateness      p50 ${lateness.p50Ms.toFixed(1)} ms, p99 ${lateness.p99Ms.toFixed(1)} ms, max ${lateness.maxMs.toFixed(1)} ms over ${lateness.count} fires (target p99 < 100 ms: ${lateness.p99Ms < 100 ? 'met' : 'MISSED'})`);
  console.log(`  event loop    delay p50 ${report.eventLoopDelay.p50Ms} ms, p99 ${report.eventLoopDelay.p99Ms} ms`);
  console.log(`  activity      ${counts.activity} reports (${report.activityCpuMsPerReport} ms CPU each), ${counts.renews} renews`);
  console.log(`  events        ${counts.warnings} warnings, ${counts.states} state changes, ${counts.persisted} rows persisted in ${counts.persistBatches} batches`);
  console.log(`  ended         ${Object.entries(ended).filter(([, c]) => c > 0).map(([r, c]) => `${r} ${c}`).join(', ')}; still live at exit: ${left}`);
}
if (left > 0) process.exitCode = 1;
