import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatDuration } from './durations.ts';
import { ErrorCode, isLatchError } from './errors.ts';

test('parseDuration reads the units the config uses', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('8h'), 28_800_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration(' 2d '), 172_800_000);
  assert.equal(parseDuration('1.5s'), 1_500);
});

test('parseDuration rejects everything else with LATCH_ERR_CONFIG', () => {
  for (const bad of ['', '15', 'm', '15 m', '-5s', '5x', '1h-', 'ten minutes', '5s5']) {
    assert.throws(() => parseDuration(bad), (err) => isLatchError(err, ErrorCode.CONFIG), `accepted "${bad}"`);
  }
});

test('formatDuration rounds up so a countdown never shows 0 before the end', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(1), '1s');
  assert.equal(formatDuration(42_000), '42s');
  assert.equal(formatDuration(123_000), '2m 03s');
  assert.equal(formatDuration(3_900_000), '1h 05m');
  assert.equal(formatDuration(-5), '0s');
});
