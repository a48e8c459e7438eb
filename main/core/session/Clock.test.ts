import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { ManualClock, systemClock } from './Clock.ts';

void test('ManualClock: advance moves both clocks and fires due timers in order, at their time', () => {
  const clock = new ManualClock({ wall: 1_000_000, monotonic: 50 });
  const fired: Array<[string, number, number]> = [];
  clock.setTimer(300, () => fired.push(['b', clock.monotonicNow(), clock.wallNow()]));
  clock.setTimer(100, () => fired.push(['a', clock.monotonicNow(), clock.wallNow()]));
  const late = clock.setTimer(1_000, () => fired.push(['never', 0, 0]));
  clock.setTimer(300, () => fired.push(['c', clock.monotonicNow(), clock.wallNow()]));
  clock.clearTimer(late);
  clock.advance(500);
  assert.deepEqual(fired, [
    ['a', 150, 1_000_100],
    ['b', 350, 1_000_300],
    ['c', 350, 1_000_300],
  ]);
  assert.equal(clock.monotonicNow(), 550);
  assert.equal(clock.wallNow(), 1_000_500);
  assert.equal(clock.pendingTimers, 0);
});

void test('ManualClock: a timer armed by a timer fires in the same advance when due', () => {
  const clock = new ManualClock({ monotonic: 0 });
  const at: number[] = [];
  clock.setTimer(10, () => {
    at.push(clock.monotonicNow());
    clock.setTimer(10, () => at.push(clock.monotonicNow()));
  });
  clock.advance(25);
  assert.deepEqual(at, [10, 20]);
});

void test('ManualClock: suspend moves only the wall clock and fires nothing; the wall can go back', () => {
  const clock = new ManualClock({ wall: 10_000, monotonic: 0 });
  let fired = false;
  clock.setTimer(5, () => (fired = true));
  clock.suspend(60_000);
  assert.equal(clock.wallNow(), 70_000);
  assert.equal(clock.monotonicNow(), 0);
  assert.equal(fired, false);
  clock.advanceWall(-100_000);
  assert.equal(clock.wallNow(), -30_000);
  assert.equal(clock.nextTimerIn(), 5);
  assert.equal(clock.advanceToNextTimer(), true);
  assert.equal(fired, true);
  assert.equal(clock.advanceToNextTimer(), false);
  assert.throws(() => clock.advance(-1), (err) => isLatchError(err, ErrorCode.USAGE));
});

void test('ManualClock: a timer that re-arms at 0 ms cannot spin forever', () => {
  const clock = new ManualClock();
  const spin = (): void => {
    clock.setTimer(0, spin);
  };
  clock.setTimer(0, spin);
  assert.throws(() => clock.advance(1), (err) => isLatchError(err, ErrorCode.INTERNAL));
});

void test('systemClock: real readings and a real timer', async () => {
  const wall = systemClock.wallNow();
  assert.ok(Math.abs(wall - Date.now()) < 1_000);
  const m0 = systemClock.monotonicNow();
  const waited = await new Promise<number>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('timer did not fire within 2 s')), 2_000);
    systemClock.setTimer(20, () => {
      clearTimeout(guard);
      resolve(systemClock.monotonicNow() - m0);
    });
  });
  assert.ok(waited >= 15, `waited ${waited} ms`);
  let cleared = true;
  const h = systemClock.setTimer(5, () => (cleared = false));
  systemClock.clearTimer(h);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(cleared, true);
});
