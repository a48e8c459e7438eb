import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEnd, describeWarning, formatLimit } from './describeEnd.ts';

void test('plain words per reason, naming the limit when known', () => {
  const policy = { idleTimeoutMs: 15 * 60_000, maxDurationMs: 8 * 3_600_000 };
  assert.equal(describeEnd('idle', policy), 'Signed out: idle for 15 min');
  assert.equal(describeEnd('absolute', policy), 'Signed out: the 8 h session limit was reached');
  assert.equal(describeEnd('revoked', policy), 'Signed out by an administrator');
  assert.equal(describeEnd('logout', policy), 'Signed out');
  assert.equal(describeEnd('replaced', policy), 'Signed in on another device');
  assert.equal(describeEnd('error', policy), 'Signed out after an error');
  assert.equal(describeEnd('idle'), 'Signed out: idle for too long');
  assert.equal(describeEnd('absolute'), 'Signed out: the session time limit was reached');
});

void test('limits read as people say them', () => {
  assert.equal(formatLimit(90_000), '1 min 30 s');
  assert.equal(formatLimit(5_000), '5 s');
  assert.equal(formatLimit(3_600_000), '1 h');
  assert.equal(formatLimit(5_400_000), '1 h 30 min');
  assert.equal(formatLimit(0), '0 s');
});

void test('warning text says how long is left and whether renewing helps', () => {
  const idle = describeWarning('idle', 120_000, true);
  assert.equal(idle.title, 'Latch session ends in 2m 00s');
  assert.match(idle.body, /Renew/);
  assert.doesNotMatch(describeWarning('idle', 5_000, false).body, /Renew to/);
  assert.match(describeWarning('absolute', 60_000, false).body, /sign in again/);
});
