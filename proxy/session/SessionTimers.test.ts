import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndReason } from '../../common/closeCodes.ts';
import { ErrorCode } from '../../common/errors.ts';
import type { DeadlineKind } from '../../common/session.ts';
import { ManualClock } from './Clock.ts';
import { parsePolicies } from './Policy.ts';
import { SessionTimers, describeEnd } from './SessionTimers.ts';
import type { SessionSnapshot, SessionTimersOptions } from './SessionTimers.ts';

const SEC = 1_000;
const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 1, 9, 0, 0);

type Event =
  | { type: 'warning'; id: string; kind: DeadlineKind; remainingMs: number; canRenew: boolean; at: number }
  | { type: 'state'; id: string; at: number }
  | { type: 'ended'; id: string; reason: EndReason; at: number; session: SessionSnapshot };

const GROUPS = {
  // default: 15m idle, 8h max, 2m warning, 10 renewals, input, idle on lock (the built-in one)
  production: { idleTimeout: '5m', maxDuration: '1h', warnBefore: '1m', maxRenewals: 2, onLock: 'end' },
  staging: { idleTimeout: '60m', warnBefore: '5m' },
};

function setup(groups: Record<string, unknown> = GROUPS, options: Partial<SessionTimersOptions> = {}) {
  const clock = new ManualClock(T0);
  const timers = new SessionTimers({ clock, policies: parsePolicies(groups), ...options });
  const events: Event[] = [];
  timers.on('warning', (id, kind, remainingMs, canRenew) => events.push({ type: 'warning', id, kind, remainingMs, canRenew, at: clock.now() }));
  timers.on('state', (id) => events.push({ type: 'state', id, at: clock.now() }));
  timers.on('ended', (id, reason, session) => events.push({ type: 'ended', id, reason, at: clock.now(), session }));
  const of = <K extends Event['type']>(type: K): Extract<Event, { type: K }>[] => events.filter((e): e is Extract<Event, { type: K }> => e.type === type);
  const start = (id = 's1', extra: Partial<Parameters<SessionTimers['add']>[0]> = {}): SessionSnapshot =>
    timers.add({ id, user: 'alice', startedAt: clock.now(), absoluteDeadline: clock.now() + 8 * HOUR, ...extra });
  return { clock, timers, events, of, start };
}

void test('idle warning fires exactly at idle deadline − warnBefore, once; the session ends at the deadline with idle', () => {
  const { clock, timers, of, start } = setup();
  start();
  clock.advance(13 * MIN - 1);
  assert.equal(of('warning').length, 0);
  clock.advance(1);
  assert.deepEqual(of('warning').map(({ kind, remainingMs, canRenew, at }) => ({ kind, remainingMs, canRenew, at })), [
    { kind: 'idle', remainingMs: 2 * MIN, canRenew: true, at: T0 + 13 * MIN },
  ]);
  clock.advance(2 * MIN - 1);
  assert.equal(of('ended').length, 0);
  assert.equal(timers.state('s1').idleRemainingMs, 1);
  clock.advance(1);
  const ended = of('ended');
  assert.equal(ended.length, 1);
  assert.equal(ended[0]?.reason, 'idle');
  assert.equal(ended[0]?.at, T0 + 15 * MIN);
  assert.equal(ended[0]?.session.endReason, 'idle');
  assert.equal(of('warning').length, 1, 'one warning per deadline');
  assert.equal(timers.has('s1'), false);
  assert.throws(() => timers.state('s1'), { code: ErrorCode.SESSION_ENDED });
  clock.advance(10 * HOUR);
  assert.equal(of('ended').length, 1, 'ended exactly once');
});

void test('renew resets the idle clock, never the absolute deadline, and is bounded by maxRenewals', () => {
  const { clock, timers, of, start } = setup({ default: { maxRenewals: 2 } });
  start();
  clock.advance(14 * MIN);
  const before = timers.state('s1');
  const after = timers.renew('s1');
  assert.equal(after.idleRemainingMs, 15 * MIN);
  assert.equal(after.absoluteRemainingMs, before.absoluteRemainingMs);
  assert.equal(after.renewalsLeft, 1);
  assert.equal(timers.get('s1')?.absoluteDeadline, T0 + 8 * HOUR);
  // The renewed deadline gets its own warning.
  clock.advance(13 * MIN);
  assert.equal(of('warning').length, 2);
  assert.equal(of('warning')[1]?.canRenew, true);
  timers.renew('s1');
  clock.advance(13 * MIN);
  assert.equal(of('warning')[2]?.canRenew, false, 'no renewals left: the warning says so');
  assert.throws(() => timers.renew('s1'), (err: unknown) => err instanceof Error && 'code' in err && err.code === ErrorCode.RENEWAL_LIMIT);
  clock.advance(2 * MIN);
  assert.equal(of('ended')[0]?.reason, 'idle');
});

void test('activity idleMs ago moves the idle deadline to (now − idleMs) + idleTimeout, forward only', () => {
  const { clock, timers, of, start } = setup();
  start();
  clock.advance(10 * MIN);
  timers.activity('s1', { idleMs: 4 * MIN, locked: false });
  assert.equal(timers.get('s1')?.idleDeadline, T0 + 6 * MIN + 15 * MIN);
  assert.equal(of('state').length, 1);
  // An older input time (the client rebooted its idle counter, or lies) never moves it back.
  timers.activity('s1', { idleMs: 9 * MIN, locked: false });
  assert.equal(timers.get('s1')?.idleDeadline, T0 + 21 * MIN);
  // A move smaller than the granularity (whole-second idle counters) is ignored: no state spam.
  clock.advance(5 * SEC);
  timers.activity('s1', { idleMs: 4 * MIN + 4_500, locked: false });
  assert.equal(timers.get('s1')?.idleDeadline, T0 + 21 * MIN);
  assert.equal(of('state').length, 1);
  timers.activity('s1', { idleMs: 0, locked: false });
  assert.equal(timers.get('s1')?.idleDeadline, clock.now() + 15 * MIN);
  assert.equal(of('state').length, 2);
  assert.throws(() => timers.activity('s1', { idleMs: -1, locked: false }), { code: ErrorCode.BAD_REQUEST });
});

void test('input inside the warning window that keeps the warning time past does not re-warn; real input does', () => {
  const { clock, timers, of, start } = setup();
  start();
  clock.advance(13 * MIN + 30 * SEC);
  assert.equal(of('warning').length, 1);
  // Report jitter: the last input appears 2 s later than before; still inside the window.
  timers.activity('s1', { idleMs: 13 * MIN + 28 * SEC, locked: false });
  clock.advance(10 * SEC);
  assert.equal(of('warning').length, 1);
  // The person is back: the deadline moves a full idle period out and will warn again.
  timers.activity('s1', { idleMs: 0, locked: false });
  clock.advance(13 * MIN);
  assert.equal(of('warning').length, 2);
  assert.equal(of('warning')[1]?.remainingMs, 2 * MIN);
});

void test('a locked screen counts as idle; with onLock end it ends the session (idle)', () => {
  const { clock, timers, of, start } = setup();
  start();
  clock.advance(5 * MIN);
  timers.activity('s1', { idleMs: 0, locked: true });
  assert.equal(timers.get('s1')?.idleDeadline, T0 + 15 * MIN, 'input while locked does not count');
  assert.equal(timers.get('s1')?.locked, true);
  clock.advance(10 * MIN);
  assert.equal(of('ended')[0]?.reason, 'idle');

  const prod = setup();
  prod.start();
  prod.timers.openedGroup('s1', 'production');
  prod.clock.advance(30 * SEC);
  assert.equal(prod.timers.activity('s1', { idleMs: 0, locked: true }), false);
  assert.deepEqual(prod.of('ended').map((e) => [e.reason, e.at]), [['idle', T0 + 30 * SEC]]);
});

void test('tunnel traffic counts only under input+traffic, and not while locked', () => {
  const input = setup();
  input.start();
  input.clock.advance(10 * MIN);
  assert.equal(input.timers.traffic('s1'), false);
  assert.equal(input.timers.get('s1')?.idleDeadline, T0 + 15 * MIN);

  const traffic = setup({ default: { activity: 'input+traffic' }, inputOnly: { activity: 'input' } });
  traffic.start();
  traffic.clock.advance(10 * MIN);
  assert.equal(traffic.timers.traffic('s1'), true);
  assert.equal(traffic.timers.get('s1')?.idleDeadline, T0 + 25 * MIN);
  traffic.clock.advance(1 * MIN);
  traffic.timers.activity('s1', { idleMs: 0, locked: true });
  assert.equal(traffic.timers.traffic('s1'), false);
  assert.equal(traffic.timers.get('s1')?.idleDeadline, T0 + 25 * MIN);
  // A group whose policy is input only turns traffic off for the session (strictest wins).
  traffic.timers.activity('s1', { idleMs: 0, locked: false });
  traffic.timers.openedGroup('s1', 'inputOnly');
  traffic.clock.advance(1 * MIN);
  assert.equal(traffic.timers.traffic('s1'), false);
  assert.equal(traffic.timers.traffic('unknown'), false);
});

void test('opening a production resource shortens the timeouts in effect; staging cannot loosen them', () => {
  const { clock, timers, of, start } = setup();
  start();
  clock.advance(1 * MIN);
  const before = timers.state('s1');
  assert.equal(before.policy.idleTimeoutMs, 15 * MIN);
  assert.deepEqual(before.policy.groups, []);
  const state = timers.openedGroup('s1', 'production');
  assert.ok(state);
  assert.equal(state.policy.idleTimeoutMs, 5 * MIN);
  assert.equal(state.policy.maxDurationMs, HOUR);
  assert.equal(state.policy.onLock, 'end');
  assert.deepEqual(state.policy.groups, ['production']);
  assert.equal(state.idleRemainingMs, 4 * MIN, 'last input at start + 5m');
  assert.equal(state.absoluteRemainingMs, HOUR - 1 * MIN, 'start + 1h');
  assert.equal(state.renewalsLeft, 2);
  assert.equal(of('state').length, 1);
  const loosened = timers.openedGroup('s1', 'staging');
  assert.equal(loosened?.policy.idleTimeoutMs, 5 * MIN);
  assert.deepEqual(loosened?.policy.groups, ['production', 'staging']);
  // The longest warning that fits before 5m: the default's 2m (staging's 5m does not fit).
  assert.equal(loosened?.policy.warnBeforeMs, 2 * MIN);
  clock.advance(4 * MIN);
  assert.equal(of('ended')[0]?.reason, 'idle');
  assert.equal(of('ended')[0]?.at, T0 + 5 * MIN);
});

void test('opening a stricter group whose deadline already passed ends the session now', () => {
  const idle = setup();
  idle.start();
  idle.clock.advance(6 * MIN);
  assert.equal(idle.timers.openedGroup('s1', 'production'), undefined);
  assert.deepEqual(idle.of('ended').map((e) => [e.reason, e.at]), [['idle', T0 + 6 * MIN]]);

  const absolute = setup();
  absolute.start();
  for (let i = 0; i < 7; i++) {
    absolute.clock.advance(10 * MIN);
    absolute.timers.activity('s1', { idleMs: 0, locked: false });
  }
  assert.equal(absolute.timers.openedGroup('s1', 'production'), undefined);
  assert.deepEqual(absolute.of('ended').map((e) => e.reason), ['absolute']);
});

void test('constant activity and renews still end at maxDuration with absolute, after one absolute warning', () => {
  const { clock, timers, of, start } = setup({ default: { maxDuration: '1h', maxRenewals: 1000 } });
  start();
  for (let t = 0; t < 2 * HOUR && timers.has('s1'); t += 30 * SEC) {
    clock.advance(30 * SEC);
    if (!timers.has('s1')) break;
    timers.activity('s1', { idleMs: 0, locked: false });
    timers.renew('s1');
  }
  assert.deepEqual(of('ended').map((e) => [e.reason, e.at]), [['absolute', T0 + HOUR]]);
  assert.deepEqual(of('warning').map(({ kind, remainingMs, canRenew, at }) => ({ kind, remainingMs, canRenew, at })), [
    { kind: 'absolute', remainingMs: 2 * MIN, canRenew: false, at: T0 + HOUR - 2 * MIN },
  ]);
});

void test('re-authentication starts a fresh absolute period (capped by maxDuration) and renewal budget', () => {
  const { clock, timers, of, start } = setup({ default: { maxDuration: '1h', maxRenewals: 1 } });
  start();
  for (let i = 0; i < 5; i++) {
    clock.advance(10 * MIN);
    timers.activity('s1', { idleMs: 0, locked: false });
  }
  timers.renew('s1');
  clock.advance(8 * MIN);
  assert.deepEqual(of('warning').map((w) => w.kind), ['absolute']);
  const state = timers.reauthenticated('s1', clock.now() + 1 * HOUR);
  assert.ok(state);
  assert.equal(state.absoluteRemainingMs, HOUR);
  assert.equal(state.renewalsLeft, 1);
  assert.equal(timers.get('s1')?.absoluteDeadline, T0 + 58 * MIN + HOUR);
  // A deadline beyond the policy's maxDuration is capped.
  timers.reauthenticated('s1', clock.now() + 5 * HOUR);
  assert.equal(timers.state('s1').absoluteRemainingMs, HOUR);
  for (let i = 0; i < 58; i++) {
    clock.advance(1 * MIN);
    timers.activity('s1', { idleMs: 0, locked: false });
  }
  assert.equal(of('warning').filter((w) => w.kind === 'absolute').length, 2, 'the new deadline is warned about again');
  for (let i = 0; i < 3 && timers.has('s1'); i++) {
    timers.activity('s1', { idleMs: 0, locked: false });
    clock.advance(1 * MIN);
  }
  assert.deepEqual(of('ended').map((e) => [e.reason, e.at]), [['absolute', T0 + 58 * MIN + HOUR]]);
});

void test('restart: past deadlines end at once with the right reason; future ones keep their deadlines', () => {
  const { clock, timers, of } = setup();
  const absolutePassed = timers.add({ id: 'a', user: 'alice', startedAt: T0 - 9 * HOUR, absoluteDeadline: T0 - 1 * HOUR, idleDeadline: T0 - 1 * HOUR });
  const idlePassed = timers.add({ id: 'b', user: 'bob', startedAt: T0 - 1 * HOUR, absoluteDeadline: T0 + 7 * HOUR, idleDeadline: T0 - 10 * SEC });
  const live = timers.add({ id: 'c', user: 'carol', startedAt: T0 - 1 * HOUR, absoluteDeadline: T0 + 7 * HOUR, idleDeadline: T0 + 5 * MIN, renewals: 4, groups: ['production'] });
  assert.equal(absolutePassed.endReason, 'absolute');
  assert.equal(idlePassed.endReason, 'idle');
  // Production's policy survives the restart: 1h max from the start (already passed).
  assert.equal(live.endReason, 'absolute');
  assert.deepEqual(of('ended').map((e) => [e.id, e.reason, e.at]), [['a', 'absolute', T0], ['b', 'idle', T0], ['c', 'absolute', T0]]);
  assert.equal(timers.has('c'), false);

  const restored = timers.add({ id: 'd', user: 'dave', startedAt: T0 - 1 * HOUR, absoluteDeadline: T0 + 7 * HOUR, idleDeadline: T0 + 90 * SEC, renewals: 4 });
  assert.equal(restored.idleDeadline, T0 + 90 * SEC);
  assert.equal(restored.absoluteDeadline, T0 + 7 * HOUR);
  assert.equal(timers.state('d').renewalsLeft, 6);
  // Inside the warning window already: the warning goes out at once.
  assert.deepEqual(of('warning').map((w) => [w.id, w.kind, w.remainingMs]), [['d', 'idle', 90 * SEC]]);
  clock.advance(90 * SEC);
  assert.deepEqual(of('ended').map((e) => [e.id, e.reason, e.at]).at(-1), ['d', 'idle', T0 + 90 * SEC]);
  assert.throws(() => timers.add({ id: 'e', user: 'x', startedAt: T0, absoluteDeadline: Number.NaN }), { code: ErrorCode.BAD_REQUEST });
});

void test('end() ends once with its reason; endUser ends all of a user\'s sessions', () => {
  const { timers, of, start } = setup();
  start('s1');
  start('s2');
  timers.add({ id: 's3', user: 'bob', startedAt: T0, absoluteDeadline: T0 + HOUR });
  assert.throws(() => start('s1'), { code: ErrorCode.BAD_REQUEST });
  assert.equal(timers.end('s1', 'logout'), true);
  assert.equal(timers.end('s1', 'revoked'), false);
  assert.deepEqual(timers.endUser('alice', 'revoked'), ['s2']);
  assert.deepEqual(of('ended').map((e) => [e.id, e.reason]), [['s1', 'logout'], ['s2', 'revoked']]);
  assert.deepEqual(timers.snapshot().map((s) => s.id), ['s3']);
  assert.equal(describeEnd('idle', { idleTimeoutMs: 15 * MIN, maxDurationMs: 8 * HOUR }), 'idle for 15 min');
  assert.equal(describeEnd('absolute', { idleTimeoutMs: 15 * MIN, maxDurationMs: 90 * MIN }), 'reached the session limit of 1 h 30 min');
});

void test('thousands of sessions share one real timer', () => {
  const { clock, timers, of } = setup();
  const n = 2_000;
  for (let i = 0; i < n; i++) {
    timers.add({ id: `s${i}`, user: `u${i % 50}`, startedAt: T0, absoluteDeadline: T0 + 8 * HOUR, idleDeadline: T0 + 1 * MIN + i * 10 });
  }
  for (let i = 0; i < n; i += 2) timers.activity(`s${i}`, { idleMs: 0, locked: false });
  assert.ok(clock.setTimerCalls <= 3, `setTimer called ${clock.setTimerCalls} times for ${n} sessions`);
  assert.ok(clock.pendingTimers() <= 1);
  clock.advance(2 * MIN);
  const ended = of('ended');
  assert.equal(ended.length, n / 2);
  for (let i = 1; i < ended.length; i++) assert.ok((ended[i - 1]?.at ?? 0) <= (ended[i]?.at ?? 0), 'deadline order');
  clock.advance(20 * MIN);
  assert.equal(timers.size, 0);
  assert.equal(timers.lateness().count > 0, true);
  assert.equal(timers.lateness().maxMs, 0, 'a manual clock fires exactly on time');
});

void test('persist receives the changed sessions in one batch per burst, ended ones with their reason', async () => {
  const batches: SessionSnapshot[][] = [];
  const { clock, timers, start } = setup(GROUPS, { persist: (b) => batches.push(b) });
  start('s1');
  start('s2');
  start('s3');
  await Promise.resolve();
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]?.map((s) => s.id), ['s1', 's2', 's3']);
  clock.advance(1 * MIN);
  timers.activity('s1', { idleMs: 0, locked: false });
  timers.activity('s1', { idleMs: 0, locked: false });
  timers.end('s2', 'logout');
  await Promise.resolve();
  assert.equal(batches.length, 2);
  assert.deepEqual(batches[1]?.map((s) => [s.id, s.endReason, s.idleDeadline]), [['s2', 'logout', T0 + 15 * MIN], ['s1', null, T0 + 16 * MIN]]);
  timers.activity('s3', { idleMs: 0, locked: false });
  timers.close();
  assert.deepEqual(batches[2]?.map((s) => s.id), ['s3']);
  assert.equal(clock.pendingTimers(), 0);
});

void test('a throwing listener or persist hook is reported; the timers carry on', async () => {
  const errors: unknown[] = [];
  const { clock, timers, of, start } = setup(GROUPS, {
    onError: (err) => errors.push(err),
    persist: () => {
      throw new Error('disk full');
    },
  });
  timers.on('warning', () => {
    throw new Error('listener bug');
  });
  start();
  clock.advance(15 * MIN);
  await Promise.resolve();
  assert.equal(of('ended')[0]?.reason, 'idle');
  assert.ok(errors.length >= 2);
});
