import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '../../../common/closeCodes.ts';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import type { EffectivePolicy, SessionStateMessage } from '../../../common/session.ts';
import { ManualClock } from './Clock.ts';
import { SessionMachine, type SessionMachineEvents } from './SessionMachine.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

const policy: EffectivePolicy = {
  idleTimeoutMs: 15 * MIN,
  maxDurationMs: 8 * HOUR,
  warnBeforeMs: 2 * MIN,
  maxRenewals: 3,
  activity: 'input',
  onLock: 'idle',
  groups: ['staging'],
};

function stateMsg(idleRemainingMs: number, absoluteRemainingMs = 8 * HOUR, renewalsLeft = 3): SessionStateMessage {
  return { type: 'session.state', sessionId: 's1', idleRemainingMs, absoluteRemainingMs, renewalsLeft, policy };
}

type Recorded = { [K in keyof SessionMachineEvents]: Array<SessionMachineEvents[K]> };

function setup(options: { checkIntervalMs?: number } = {}) {
  const clock = new ManualClock();
  const machine = new SessionMachine({ clock, ...options });
  const events: Recorded = { state: [], warning: [], ended: [], sendRenew: [], sendLogout: [], recheck: [], requestError: [] };
  const record = <K extends keyof Recorded>(key: K): void => {
    machine.on(key, (payload) => {
      events[key].push(payload);
    });
  };
  for (const key of Object.keys(events) as Array<keyof Recorded>) record(key);
  return { clock, machine, events };
}

/** Signed in, connected, first state received. */
function live(options: { checkIntervalMs?: number } = {}) {
  const s = setup(options);
  s.machine.signedIn('s1');
  s.machine.connectionRestored();
  s.machine.serverMessage(stateMsg(15 * MIN));
  return s;
}

void test('signed in → connecting → active on the first session.state', () => {
  const { machine, events } = setup();
  assert.equal(machine.state, 'signed-out');
  machine.signedIn('s1', { absoluteRemainingMs: 8 * HOUR });
  assert.equal(machine.state, 'connecting');
  assert.equal(machine.snapshot().absoluteRemainingMs, 8 * HOUR);
  machine.connectionRestored();
  assert.equal(machine.state, 'connecting');
  machine.serverMessage(stateMsg(15 * MIN));
  const snap = machine.snapshot();
  assert.equal(snap.state, 'active');
  assert.equal(snap.idleRemainingMs, 15 * MIN);
  assert.equal(snap.renewalsLeft, 3);
  assert.deepEqual(snap.policy?.groups, ['staging']);
  assert.equal(events.state.at(-1)?.state, 'active');
});

void test('state → warning → renew → state; the warning comes once per episode, and again after the renew', () => {
  const { clock, machine, events } = live();
  clock.advance(13 * MIN - 1);
  assert.equal(events.warning.length, 0);
  assert.equal(machine.state, 'active');
  clock.advance(1);
  // Computed locally at deadline − warnBefore, before the proxy said anything.
  assert.deepEqual(events.warning, [{ kind: 'idle', remainingMs: 2 * MIN, canRenew: true, source: 'local' }]);
  assert.equal(machine.state, 'warning');
  // The proxy's own warning a moment later is the same episode: no second notification.
  clock.advance(200);
  machine.serverMessage({ type: 'session.warning', kind: 'idle', remainingMs: 2 * MIN - 300, canRenew: true });
  assert.equal(events.warning.length, 1);
  assert.equal(machine.snapshot().warning?.kind, 'idle');
  assert.equal(machine.snapshot().warning?.remainingMs, 2 * MIN - 300);

  assert.equal(machine.renewRequested(), 'sent');
  assert.deepEqual(events.sendRenew, [{ type: 'renew' }]);
  machine.serverMessage(stateMsg(15 * MIN, 8 * HOUR - 14 * MIN, 2));
  assert.equal(machine.state, 'active');
  assert.equal(machine.snapshot().warning, null);
  assert.equal(machine.snapshot().renewalsLeft, 2);

  clock.advance(13 * MIN);
  assert.equal(events.warning.length, 2);
  assert.equal(events.warning[1]?.kind, 'idle');
  assert.equal(events.ended.length, 0);
});

void test('a proxy warning first is reported once, with canRenew from the proxy', () => {
  const { clock, machine, events } = live();
  clock.advance(12 * MIN);
  machine.serverMessage({ type: 'session.warning', kind: 'idle', remainingMs: 2 * MIN, canRenew: false });
  assert.deepEqual(events.warning, [{ kind: 'idle', remainingMs: 2 * MIN, canRenew: false, source: 'proxy' }]);
  clock.advance(90_000);
  assert.equal(events.warning.length, 1);
  assert.equal(machine.snapshot().warning?.canRenew, false);
  // The proxy's warning also refreshed the deadline: 30 s left, not 60 s.
  assert.equal(machine.snapshot().idleRemainingMs, 30_000);
});

void test('a proxy that goes silent: the local warning still comes at deadline − warnBefore, then the local end at the deadline', () => {
  const { clock, machine, events } = live();
  // No tick() calls: the machine's own timer drives it.
  clock.advance(13 * MIN);
  assert.equal(events.warning.length, 1);
  assert.equal(events.warning[0]?.source, 'local');
  clock.advance(2 * MIN - 1);
  assert.equal(events.ended.length, 0);
  clock.advance(1);
  assert.equal(events.ended.length, 1);
  assert.equal(events.ended[0]?.reason, 'idle');
  assert.equal(events.ended[0]?.local, true);
  assert.equal(machine.state, 'ended');
});

void test('offline past the idle deadline: ends locally with reason idle and plain words', () => {
  const { clock, machine, events } = live();
  clock.advance(5 * MIN);
  machine.connectionLost();
  assert.equal(machine.state, 'offline');
  clock.advance(8 * MIN);
  assert.equal(events.warning.length, 1, 'warned while offline');
  assert.equal(machine.state, 'offline');
  clock.advance(2 * MIN);
  assert.equal(events.ended.length, 1);
  const end = events.ended[0];
  assert.equal(end?.reason, 'idle');
  assert.equal(end?.local, true);
  assert.equal(end?.sessionId, 's1');
  assert.equal(end?.message, 'Signed out: idle for 15 min');
  assert.match(end?.detail ?? '', /could not be reached/);
  assert.equal(machine.snapshot().end?.reason, 'idle');
  assert.equal(clock.pendingTimers, 0, 'no timer left armed after the end');
});

void test('suspend: the wall clock jumps, the monotonic clock does not, and resumed() ends at once', () => {
  const { clock, machine, events } = live();
  clock.advance(MIN);
  clock.suspend(20 * MIN);
  assert.equal(events.ended.length, 0, 'nothing fires during a suspend');
  machine.resumed();
  assert.equal(events.ended.length, 1);
  assert.equal(events.ended[0]?.reason, 'idle');
  assert.equal(events.recheck.length, 0, 'no recheck for a session that is over');
});

void test('suspend: tick() ends at once too, and without any input the check interval catches it within 1 s', () => {
  const a = live();
  a.clock.suspend(16 * MIN);
  a.machine.tick();
  assert.equal(a.events.ended[0]?.reason, 'idle');

  const b = live();
  b.clock.suspend(16 * MIN);
  b.clock.advance(1_000);
  assert.equal(b.events.ended.length, 1);
  assert.equal(b.events.ended[0]?.reason, 'idle');
});

void test('resumed() before any deadline asks the host to contact the proxy', () => {
  const { clock, machine, events } = live();
  clock.suspend(MIN);
  machine.resumed();
  machine.unlocked();
  assert.deepEqual(events.recheck, [{ cause: 'resumed' }, { cause: 'unlocked' }]);
  assert.equal(machine.snapshot().idleRemainingMs, 14 * MIN);
});

void test('a wall clock set backwards does not extend the session', () => {
  const { clock, events } = live();
  clock.advance(MIN);
  clock.advanceWall(-2 * HOUR);
  clock.advance(14 * MIN - 1);
  assert.equal(events.ended.length, 0);
  clock.advance(1);
  assert.equal(events.ended.length, 1);
  assert.equal(events.ended[0]?.reason, 'idle');
});

void test('ended is emitted once whatever the order: server ended, then local deadline, then connection lost', () => {
  const { clock, machine, events } = live();
  clock.advance(10 * MIN);
  machine.serverMessage({ type: 'session.ended', reason: 'revoked', message: 'ended by admin' });
  clock.advance(10 * MIN);
  machine.tick();
  machine.connectionLost(CloseCode.SESSION_IDLE);
  machine.logoutRequested();
  machine.resumed();
  assert.equal(events.ended.length, 1);
  assert.deepEqual(events.ended[0], {
    sessionId: 's1',
    reason: 'revoked',
    message: 'Signed out by an administrator',
    detail: 'ended by admin',
    local: false,
    wipe: true,
  });
  assert.equal(machine.state, 'ended');
});

void test('ended is emitted once whatever the order: local deadline first, then server ended and connection lost', () => {
  const { clock, machine, events } = live();
  clock.advance(15 * MIN);
  machine.serverMessage({ type: 'session.ended', reason: 'idle', message: 'idle' });
  machine.connectionLost(CloseCode.SESSION_IDLE);
  machine.connectionLost();
  assert.equal(events.ended.length, 1);
  assert.equal(events.ended[0]?.local, true);
  assert.equal(events.ended.filter((e) => e.reason === 'idle').length, 1);
});

void test('ended once even when an ended listener feeds more inputs', () => {
  const { clock, machine, events } = live();
  machine.on('ended', () => {
    machine.tick();
    machine.serverMessage({ type: 'session.ended', reason: 'error', message: 'x' });
    machine.connectionLost();
  });
  clock.advance(16 * MIN);
  assert.equal(events.ended.length, 1);
});

void test('a close code with a session-end reason ends with that reason; another one means offline', () => {
  const a = live();
  a.machine.connectionLost(CloseCode.KEEPALIVE_TIMEOUT);
  assert.equal(a.machine.state, 'offline');
  a.machine.connectionLost(CloseCode.SESSION_REVOKED);
  assert.equal(a.events.ended[0]?.reason, 'revoked');
  assert.equal(a.events.ended[0]?.local, false);
  assert.equal(a.events.ended[0]?.wipe, true);
});

void test('a connection replaced by a newer one of the same session ends here without a wipe; a replaced session wipes', () => {
  const a = live();
  a.machine.connectionLost(CloseCode.SESSION_REPLACED);
  assert.equal(a.events.ended[0]?.reason, 'replaced');
  assert.equal(a.events.ended[0]?.wipe, false);
  assert.match(a.events.ended[0]?.detail ?? '', /newer connection/);

  const b = live();
  b.machine.serverMessage({ type: 'session.ended', reason: 'replaced', message: 'replaced by a newer sign-in' });
  assert.equal(b.events.ended[0]?.reason, 'replaced');
  assert.equal(b.events.ended[0]?.message, 'Signed in on another device');
  assert.equal(b.events.ended[0]?.wipe, true);
});

void test('constant activity still ends at the absolute deadline, and the idle warning gives way to the absolute one', () => {
  const { clock, machine, events } = setup();
  machine.signedIn('s1');
  machine.connectionRestored();
  let absolute = 20 * MIN;
  machine.serverMessage(stateMsg(15 * MIN, absolute));
  for (let i = 0; i < 30 && events.ended.length === 0; i++) {
    clock.advance(MIN);
    absolute -= MIN;
    // The proxy caps the idle deadline at the absolute one.
    if (absolute > 0) machine.serverMessage(stateMsg(Math.min(15 * MIN, absolute), absolute));
  }
  assert.equal(events.ended.length, 1);
  assert.equal(events.ended[0]?.reason, 'absolute');
  assert.equal(events.ended[0]?.message, 'Signed out: the 8 h session limit was reached');
  assert.deepEqual(
    events.warning.map((w) => [w.kind, w.canRenew]),
    [['absolute', false]],
  );
});

void test('an idle deadline capped at the absolute one ends and warns as absolute, whatever the delivery delays', () => {
  const { clock, machine, events } = setup();
  machine.signedIn('s1');
  machine.connectionRestored();
  machine.serverMessage(stateMsg(5_000, 5_000));
  // The proxy's absolute warning, sent at 2 s before the deadline, arrives 5 ms late: it restarts
  // the absolute countdown 5 ms after the idle one, which the proxy capped at the same instant.
  clock.advance(3_005);
  machine.serverMessage({ type: 'session.warning', kind: 'absolute', remainingMs: 2_000, canRenew: false });
  clock.advance(2_000);
  assert.deepEqual(
    events.ended.map((e) => e.reason),
    ['absolute'],
  );
  assert.deepEqual(
    events.warning.map((w) => w.kind),
    ['absolute'],
  );
});

void test('two countdowns read from a clock that moves between reads still tie: the absolute deadline wins', () => {
  // A real monotonic clock moves by microseconds between the two reads of one session.state.
  class CreepingClock extends ManualClock {
    #reads = 0;
    override monotonicNow(): number {
      return super.monotonicNow() + ++this.#reads * 0.001;
    }
  }
  const clock = new CreepingClock();
  const machine = new SessionMachine({ clock });
  const ended: string[] = [];
  const warned: string[] = [];
  machine.on('ended', (e) => ended.push(e.reason));
  machine.on('warning', (w) => warned.push(w.kind));
  machine.signedIn('s1');
  machine.connectionRestored();
  machine.serverMessage(stateMsg(3 * MIN, 3 * MIN));
  clock.advance(3 * MIN);
  assert.deepEqual(ended, ['absolute']);
  assert.deepEqual(warned, ['absolute']);
});

void test('the absolute deadline also ends a session offline, with the earlier deadline winning', () => {
  const { clock, events, machine } = setup();
  machine.signedIn('s1');
  machine.connectionRestored();
  machine.serverMessage(stateMsg(15 * MIN, 10 * MIN));
  machine.connectionLost();
  clock.suspend(HOUR);
  machine.resumed();
  assert.equal(events.ended[0]?.reason, 'absolute');
  assert.equal(events.ended[0]?.local, true);
});

void test('connecting: a session that never reaches the proxy still ends at the absolute deadline from sign-in', () => {
  const { clock, machine, events } = setup();
  machine.signedIn('s1', { absoluteRemainingMs: 5 * MIN });
  machine.connectionLost();
  assert.equal(machine.state, 'connecting');
  clock.advance(5 * MIN);
  assert.equal(events.ended[0]?.reason, 'absolute');
  assert.equal(events.ended[0]?.message, 'Signed out: the session time limit was reached');
});

void test('renew while offline is queued and sent when the connection is back', () => {
  const { clock, machine, events } = live();
  machine.connectionLost();
  clock.advance(13 * MIN);
  assert.equal(machine.renewRequested(), 'queued');
  assert.equal(events.sendRenew.length, 0);
  assert.equal(machine.snapshot().renewQueued, true);
  machine.connectionRestored();
  assert.deepEqual(events.sendRenew, [{ type: 'renew' }]);
  assert.equal(machine.snapshot().renewQueued, false);
  // The local deadline does not move until the proxy's fresh state arrives.
  assert.equal(machine.snapshot().idleRemainingMs, 2 * MIN);
});

void test('a renew refused by the proxy surfaces as a named error', () => {
  const { machine, events } = live();
  machine.serverMessage({ type: 'request.error', request: 'renew', error: { code: ErrorCode.RENEWAL_LIMIT, message: 'no renewals left' } });
  assert.equal(events.requestError.length, 1);
  assert.equal(events.requestError[0]?.request, 'renew');
  assert.ok(isLatchError(events.requestError[0]?.error, ErrorCode.RENEWAL_LIMIT));
  assert.equal(machine.state, 'active');
});

void test('renew is refused before sign-in and after the end, with named errors', () => {
  const { machine } = setup();
  assert.throws(() => machine.renewRequested(), (err) => isLatchError(err, ErrorCode.NOT_SIGNED_IN));
  const b = live();
  b.machine.serverMessage({ type: 'session.ended', reason: 'logout', message: '' });
  assert.throws(() => b.machine.renewRequested(), (err) => isLatchError(err, ErrorCode.SESSION_ENDED));
});

void test('logout online: sends logout, waits in ending, ends with the proxy confirmation', () => {
  const { machine, events } = live();
  machine.logoutRequested();
  assert.equal(machine.state, 'ending');
  assert.deepEqual(events.sendLogout, [{ type: 'logout' }]);
  machine.logoutRequested();
  assert.equal(events.sendLogout.length, 1);
  machine.serverMessage({ type: 'session.ended', reason: 'logout', message: 'signed out' });
  assert.equal(events.ended.length, 1);
  assert.equal(events.ended[0]?.reason, 'logout');
  assert.equal(events.ended[0]?.message, 'Signed out');
  assert.equal(events.ended[0]?.local, false);
});

void test('logout: a silent proxy, a dropped connection, or no connection end it here', () => {
  const a = live();
  a.machine.logoutRequested();
  a.clock.advance(4_999);
  assert.equal(a.events.ended.length, 0);
  a.clock.advance(1);
  assert.equal(a.events.ended[0]?.reason, 'logout');
  assert.equal(a.events.ended[0]?.local, true);

  const b = live();
  b.machine.logoutRequested();
  b.machine.connectionLost();
  assert.equal(b.events.ended[0]?.reason, 'logout');

  const c = live();
  c.machine.connectionLost();
  c.machine.logoutRequested();
  assert.equal(c.events.sendLogout.length, 0);
  assert.equal(c.events.ended[0]?.reason, 'logout');
  assert.equal(c.events.ended[0]?.local, true);
});

void test('re-authentication in place moves the absolute deadline and clears its warning', () => {
  const { clock, machine, events } = setup();
  machine.signedIn('s1');
  machine.connectionRestored();
  machine.serverMessage(stateMsg(15 * MIN, 3 * MIN));
  clock.advance(MIN);
  assert.equal(events.warning[0]?.kind, 'absolute');
  machine.signedIn('s1', { absoluteRemainingMs: 8 * HOUR });
  assert.equal(machine.state, 'active');
  assert.equal(machine.snapshot().absoluteRemainingMs, 8 * HOUR);
  clock.advance(5 * MIN);
  assert.equal(events.ended.length, 0);
  assert.throws(() => machine.signedIn('s2'), (err) => isLatchError(err, ErrorCode.USAGE));
});

void test('a new sign-in after the end starts a fresh session that can end again', () => {
  const { clock, machine, events } = live();
  clock.advance(15 * MIN);
  assert.equal(events.ended.length, 1);
  machine.signedIn('s2');
  assert.equal(machine.state, 'connecting');
  assert.equal(machine.snapshot().end, null);
  machine.connectionRestored();
  machine.serverMessage({ ...stateMsg(MIN), sessionId: 's2' });
  clock.advance(MIN);
  assert.equal(events.ended.length, 2);
  assert.equal(events.ended[1]?.sessionId, 's2');
});

void test('a session.state for another session is ignored', () => {
  const { clock, machine } = live();
  clock.advance(10 * MIN);
  machine.serverMessage({ ...stateMsg(15 * MIN), sessionId: 'other' });
  assert.equal(machine.snapshot().idleRemainingMs, 5 * MIN);
});

void test('the countdown: state is published at least every check interval while deadlines are known', () => {
  const { clock, events } = live();
  const before = events.state.length;
  clock.advance(5_000);
  assert.ok(events.state.length - before >= 5, `${events.state.length - before} state events in 5 s`);
  assert.equal(events.state.at(-1)?.idleRemainingMs, 15 * MIN - 5_000);
});

void test('on() returns a cleanup function, and a throwing listener does not stop the others', () => {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const machine = new SessionMachine({ clock, onListenerError: (err) => errors.push(err) });
  const seen: string[] = [];
  machine.on('state', () => {
    throw new Error('listener bug');
  });
  const off = machine.on('state', (s) => seen.push(s.state));
  machine.signedIn('s1');
  off();
  machine.connectionRestored();
  assert.deepEqual(seen, ['connecting']);
  assert.equal(errors.length, 2);
  machine.dispose();
  assert.equal(clock.pendingTimers, 0);
});

void test('options are validated', () => {
  assert.throws(() => new SessionMachine({ checkIntervalMs: 0 }), (err) => isLatchError(err, ErrorCode.CONFIG));
  assert.throws(() => new SessionMachine({ clock: {} as never }), (err) => isLatchError(err, ErrorCode.CONFIG));
});
