import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from './Clock.ts';

void test('ManualClock fires due timers in due order, ties in the order set, with now() at each due time', () => {
  const clock = new ManualClock(1_000_000);
  const seen: string[] = [];
  clock.setTimer(30, () => seen.push(`c@${clock.now()}`));
  clock.setTimer(10, () => seen.push(`a@${clock.now()}`));
  clock.setTimer(10, () => seen.push(`b@${clock.now()}`));
  clock.setTimer(100, () => seen.push('late'));
  clock.advance(50);
  assert.deepEqual(seen, ['a@1000010', 'b@1000010', 'c@1000030']);
  assert.equal(clock.now(), 1_000_050);
  assert.equal(clock.monotonic(), 50);
  assert.equal(clock.pendingTimers(), 1);
});

void test('ManualClock: timers set by a callback fire within the same advance; cleared ones never fire', () => {
  const clock = new ManualClock(0);
  const seen: number[] = [];
  const cleared = clock.setTimer(5, () => seen.push(-1));
  clock.setTimer(1, () => {
    seen.push(clock.now());
    clock.setTimer(2, () => seen.push(clock.now()));
  });
  clock.clearTimer(cleared);
  clock.advance(10);
  assert.deepEqual(seen, [1, 3]);
  assert.equal(clock.setTimerCalls, 3);
  assert.equal(clock.pendingTimers(), 0);
});

void test('ManualClock.jumpWall moves only the wall clock and fires nothing', () => {
  const clock = new ManualClock(0);
  let fired = false;
  clock.setTimer(10, () => (fired = true));
  clock.jumpWall(60_000);
  assert.equal(clock.now(), 60_000);
  assert.equal(clock.monotonic(), 0);
  assert.equal(fired, false);
  assert.throws(() => clock.advance(-1), RangeError);
});

void test('systemClock arms a real timer that can be cleared', async () => {
  const fired = await new Promise<boolean>((resolve) => {
    const cancelled = systemClock.setTimer(5, () => resolve(false));
    systemClock.clearTimer(cancelled);
    systemClock.setTimer(10, () => resolve(true));
  });
  assert.equal(fired, true);
  assert.ok(Math.abs(systemClock.now() - Date.now()) < 1000);
  assert.ok(systemClock.monotonic() > 0);
});
