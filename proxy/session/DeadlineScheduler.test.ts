import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../common/errors.ts';
import { ManualClock } from './Clock.ts';
import { DeadlineScheduler } from './DeadlineScheduler.ts';

const T0 = 1_700_000_000_000;

function setup(options: ConstructorParameters<typeof DeadlineScheduler<string>>[2] = {}) {
  const clock = new ManualClock(T0);
  const fired: { key: string; deadline: number; at: number }[] = [];
  const scheduler = new DeadlineScheduler<string>(clock, (key, deadline) => fired.push({ key, deadline, at: clock.now() }), options);
  return { clock, fired, scheduler };
}

void test('fires callbacks in deadline order, each exactly at its deadline', () => {
  const { clock, fired, scheduler } = setup();
  scheduler.schedule('c', T0 + 300);
  scheduler.schedule('a', T0 + 100);
  scheduler.schedule('b', T0 + 200);
  clock.advance(250);
  assert.deepEqual(fired.map((f) => f.key), ['a', 'b']);
  for (const f of fired) assert.equal(f.at, f.deadline);
  clock.advance(100);
  assert.deepEqual(fired.map((f) => f.key), ['a', 'b', 'c']);
  assert.equal(scheduler.size, 0);
  assert.equal(clock.pendingTimers(), 0);
});

void test('reschedule moves a key both ways; cancel removes it', () => {
  const { clock, fired, scheduler } = setup();
  scheduler.schedule('a', T0 + 100);
  scheduler.schedule('b', T0 + 200);
  scheduler.schedule('c', T0 + 300);
  scheduler.schedule('a', T0 + 400); // later
  scheduler.schedule('c', T0 + 50); // earlier
  assert.equal(scheduler.cancel('b'), true);
  assert.equal(scheduler.cancel('b'), false);
  assert.equal(scheduler.deadlineOf('a'), T0 + 400);
  clock.advance(1_000);
  assert.deepEqual(fired.map((f) => `${f.key}@${f.at - T0}`), ['c@50', 'a@400']);
});

void test('10,000 deadlines use one real timer, not 10,000', () => {
  const { clock, fired, scheduler } = setup();
  const n = 10_000;
  for (let i = 0; i < n; i++) scheduler.schedule(`s${i}`, T0 + 1_000 + ((i * 7919) % 5_000));
  // Moving deadlines later (activity) must not re-arm either.
  for (let i = 0; i < n; i += 3) scheduler.schedule(`s${i}`, T0 + 6_000 + i);
  assert.ok(clock.setTimerCalls <= 2, `setTimer called ${clock.setTimerCalls} times`);
  assert.equal(clock.pendingTimers(), 1);
  clock.advance(20_000);
  assert.equal(fired.length, n);
  for (let i = 1; i < fired.length; i++) assert.ok((fired[i - 1]?.deadline ?? 0) <= (fired[i]?.deadline ?? 0), 'out of order');
  // One arm per distinct due instant at most, never one per key scheduled.
  assert.ok(clock.setTimerCalls < n, `setTimer called ${clock.setTimerCalls} times`);
  assert.ok(clock.pendingTimers() <= 1);
});

void test('random schedule/reschedule/cancel keeps heap order (checked against a sort)', () => {
  const { clock, fired, scheduler } = setup();
  const expected = new Map<string, number>();
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 5_000; i++) {
    const key = `k${rand(800)}`;
    const op = rand(10);
    if (op < 2) {
      scheduler.cancel(key);
      expected.delete(key);
    } else {
      const deadline = T0 + 10 + rand(100_000);
      scheduler.schedule(key, deadline);
      expected.set(key, deadline);
    }
  }
  assert.equal(scheduler.size, expected.size);
  clock.advance(200_000);
  const want = [...expected.entries()].sort((a, b) => a[1] - b[1]).map(([, d]) => d);
  assert.deepEqual(fired.map((f) => f.deadline), want);
  assert.deepEqual(new Set(fired.map((f) => f.key)), new Set(expected.keys()));
});

void test('long delays are armed in slices of maxArmMs and still fire on time', () => {
  const { clock, fired, scheduler } = setup({ maxArmMs: 1_000 });
  scheduler.schedule('far', T0 + 5_500);
  clock.advance(5_499);
  assert.equal(fired.length, 0);
  clock.advance(1);
  assert.equal(fired[0]?.at, T0 + 5_500);
});

void test('a wall-clock step forward is caught at the next slice', () => {
  const { clock, fired, scheduler } = setup({ maxArmMs: 1_000 });
  scheduler.schedule('x', T0 + 60_000);
  clock.jumpWall(120_000);
  clock.advance(1_000);
  assert.equal(fired.length, 1);
  assert.equal(fired[0]?.key, 'x');
});

void test('a batch larger than maxBatch yields and finishes on the next tick', () => {
  const { clock, fired, scheduler } = setup({ maxBatch: 10 });
  for (let i = 0; i < 35; i++) scheduler.schedule(`k${i}`, T0 + 100);
  clock.advance(100);
  assert.equal(fired.length, 35);
  assert.ok(clock.setTimerCalls >= 4, 'each batch of 10 re-armed a 0 ms timer');
});

void test('a throwing callback is reported and the rest still fire', () => {
  const clock = new ManualClock(T0);
  const errors: unknown[] = [];
  const fired: string[] = [];
  const scheduler = new DeadlineScheduler<string>(
    clock,
    (key) => {
      if (key === 'bad') throw new Error('boom');
      fired.push(key);
    },
    { onError: (err) => errors.push(err) },
  );
  scheduler.schedule('bad', T0 + 1);
  scheduler.schedule('good', T0 + 2);
  clock.advance(5);
  assert.deepEqual(fired, ['good']);
  assert.equal(errors.length, 1);
});

void test('callbacks may schedule during firing; close drops everything', () => {
  const clock = new ManualClock(T0);
  const fired: string[] = [];
  const scheduler: DeadlineScheduler<string> = new DeadlineScheduler<string>(clock, (key) => {
    fired.push(key);
    if (key === 'a') scheduler.schedule('a2', clock.now() + 10);
  });
  scheduler.schedule('a', T0 + 10);
  scheduler.schedule('b', T0 + 100);
  clock.advance(50);
  assert.deepEqual(fired, ['a', 'a2']);
  scheduler.close();
  assert.equal(clock.pendingTimers(), 0);
  clock.advance(100);
  assert.deepEqual(fired, ['a', 'a2']);
  assert.throws(() => scheduler.schedule('c', T0 + 500), { code: ErrorCode.INTERNAL });
});

void test('lateness: fired_at − deadline, with p50/p99', () => {
  const { clock, scheduler } = setup();
  // Deadlines already passed by 0..99 ms when the single timer fires.
  for (let i = 0; i < 100; i++) scheduler.schedule(`k${i}`, T0 + 1_000 - i);
  // The one timer is armed for the earliest (T0 + 901); with the wall clock 99 ms ahead it
  // fires at wall T0 + 1000, when key i is i ms late.
  clock.jumpWall(99);
  clock.advance(901);
  const report = scheduler.lateness();
  assert.equal(report.count, 100);
  assert.ok(report.p50Ms >= 49 && report.p50Ms <= 52, `p50 ${report.p50Ms}`);
  assert.ok(report.p99Ms >= 98 && report.p99Ms <= 101, `p99 ${report.p99Ms}`);
  assert.ok(report.maxMs >= report.p99Ms);
});

void test('options are validated', () => {
  assert.throws(() => setup({ maxArmMs: 0 }), { code: ErrorCode.CONFIG });
  assert.throws(() => setup({ maxBatch: 1.5 }), { code: ErrorCode.CONFIG });
  assert.throws(() => setup({ maxArmMs: 2 ** 31 }), { code: ErrorCode.CONFIG });
});
