import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './Clock.ts';
import { Countdown, Elapsed } from './Elapsed.ts';

void test('elapsed follows normal time', () => {
  const clock = new ManualClock();
  const e = new Elapsed(clock);
  assert.equal(e.ms(), 0);
  clock.advance(1_500);
  assert.equal(e.ms(), 1_500);
});

void test('a suspend (wall jumps, monotonic stops) counts as elapsed', () => {
  const clock = new ManualClock();
  const e = new Elapsed(clock);
  clock.advance(1_000);
  clock.suspend(30 * 60_000);
  assert.equal(e.ms(), 1_000 + 30 * 60_000);
});

void test('a wall clock set back does not give time back', () => {
  const clock = new ManualClock();
  const e = new Elapsed(clock);
  clock.advance(10_000);
  clock.advanceWall(-3_600_000);
  assert.equal(e.ms(), 10_000);
  clock.advance(5_000);
  assert.equal(e.ms(), 15_000);
});

void test('the reading never decreases: a wall jump forward then back keeps the high-water mark', () => {
  const clock = new ManualClock();
  const e = new Elapsed(clock);
  clock.advanceWall(60_000);
  assert.equal(e.ms(), 60_000);
  clock.advanceWall(-60_000);
  clock.advance(1_000);
  assert.equal(e.ms(), 60_000);
});

void test('a countdown reaches zero with elapsed time, including a suspend', () => {
  const clock = new ManualClock();
  const c = new Countdown(clock, 10_000);
  clock.advance(4_000);
  assert.equal(c.remainingMs(), 6_000);
  clock.suspend(7_000);
  assert.equal(c.remainingMs(), -1_000);
});
