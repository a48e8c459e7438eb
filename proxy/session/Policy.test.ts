import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { DEFAULT_POLICY, PolicyError, parsePolicies, parsePolicy, strictest } from './Policy.ts';
import type { Policy } from './Policy.ts';

const MIN = 60_000;
const HOUR = 3_600_000;

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PolicyError, `expected PolicyError, got ${String(err)}`);
    assert.ok(isLatchError(err, ErrorCode.CONFIG));
    return err;
  }
  assert.fail('expected a PolicyError');
}

void test('the built-in default: 15m idle, 8h max, 2m warning, 10 renewals, input, idle on lock', () => {
  assert.deepEqual({ ...DEFAULT_POLICY }, {
    idleTimeoutMs: 15 * MIN, maxDurationMs: 8 * HOUR, warnBeforeMs: 2 * MIN, maxRenewals: 10, activity: 'input', onLock: 'idle',
  });
  assert.deepEqual(parsePolicy(null, ['groups', 'x']), { ...DEFAULT_POLICY });
  assert.deepEqual(parsePolicy({}, ['groups', 'x']), { ...DEFAULT_POLICY });
});

void test('a group overrides the default key by key', () => {
  const p = parsePolicy({ idleTimeout: '5m', maxDuration: '1h', activity: 'input+traffic', onLock: 'end', maxRenewals: 0 }, ['groups', 'production']);
  assert.deepEqual(p, { idleTimeoutMs: 5 * MIN, maxDurationMs: HOUR, warnBeforeMs: 2 * MIN, maxRenewals: 0, activity: 'input+traffic', onLock: 'end' });
  const q = parsePolicy({ warnBefore: '90s' }, ['g'], p);
  assert.equal(q.warnBeforeMs, 90_000);
  assert.equal(q.idleTimeoutMs, 5 * MIN);
});

void test('each bad key is a CONFIG error whose path names it', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ idleTimeout: '15 minutes' }, 'idleTimeout'],
    [{ idleTimeout: 900 }, 'idleTimeout'],
    [{ maxDuration: '500ms' }, 'maxDuration'],
    [{ warnBefore: true }, 'warnBefore'],
    [{ maxRenewals: -1 }, 'maxRenewals'],
    [{ maxRenewals: 2.5 }, 'maxRenewals'],
    [{ maxRenewals: '3' }, 'maxRenewals'],
    [{ activity: 'traffic' }, 'activity'],
    [{ onLock: 'logout' }, 'onLock'],
    [{ idleTimout: '5m' }, 'idleTimout'],
  ];
  for (const [raw, key] of cases) {
    const err = policyError(() => parsePolicy(raw, ['groups', 'production']));
    assert.deepEqual(err.path, ['groups', 'production', key], JSON.stringify(raw));
    assert.ok(err.message.startsWith(`groups.production.${key}: `), err.message);
    assert.ok(err.message.endsWith(err.detail));
  }
  assert.deepEqual(policyError(() => parsePolicy('5m', ['groups', 'p'])).path, ['groups', 'p']);
});

void test('warnBefore must be shorter than idleTimeout; idleTimeout no longer than maxDuration', () => {
  let err = policyError(() => parsePolicy({ idleTimeout: '5m', warnBefore: '5m' }, ['groups', 'p']));
  assert.deepEqual(err.path, ['groups', 'p', 'warnBefore']);
  // The group set only idleTimeout: blame that key (the inherited 2m warning does not fit).
  err = policyError(() => parsePolicy({ idleTimeout: '90s' }, ['groups', 'p']));
  assert.deepEqual(err.path, ['groups', 'p', 'idleTimeout']);
  assert.match(err.detail, /inherited/);
  err = policyError(() => parsePolicy({ idleTimeout: '2h', maxDuration: '1h' }, ['groups', 'p']));
  assert.deepEqual(err.path, ['groups', 'p', 'idleTimeout']);
  err = policyError(() => parsePolicy({ maxDuration: '10m' }, ['groups', 'p']));
  assert.deepEqual(err.path, ['groups', 'p', 'maxDuration']);
  assert.doesNotThrow(() => parsePolicy({ idleTimeout: '1h', maxDuration: '1h', warnBefore: '59m' }, ['g']));
});

void test('parsePolicies: a `default` group replaces the built-in default and others inherit from it', () => {
  const set = parsePolicies({ default: { idleTimeout: '30m' }, production: { maxDuration: '1h' }, staging: null });
  assert.equal(set.defaultPolicy.idleTimeoutMs, 30 * MIN);
  assert.equal(set.groups.get('production')?.idleTimeoutMs, 30 * MIN);
  assert.equal(set.groups.get('production')?.maxDurationMs, HOUR);
  assert.deepEqual(set.groups.get('staging'), set.defaultPolicy);
  const err = policyError(() => parsePolicies({ default: { idleTimeout: '30m', warnBefore: '20m' }, production: { idleTimeout: '10m' } }));
  assert.deepEqual(err.path, ['groups', 'production', 'idleTimeout']);
});

void test('strictest: min idle and max, max warning that fits, min renewals, input and end win, groups unioned', () => {
  const prod: Policy = { idleTimeoutMs: 5 * MIN, maxDurationMs: HOUR, warnBeforeMs: 1 * MIN, maxRenewals: 3, activity: 'input+traffic', onLock: 'end' };
  const staging: Policy = { idleTimeoutMs: 60 * MIN, maxDurationMs: 8 * HOUR, warnBeforeMs: 10 * MIN, maxRenewals: 20, activity: 'input', onLock: 'idle' };
  const analytics: Policy = { idleTimeoutMs: 30 * MIN, maxDurationMs: 4 * HOUR, warnBeforeMs: 3 * MIN, maxRenewals: 5, activity: 'input+traffic', onLock: 'idle' };
  const e = strictest([
    { ...prod, groups: ['production'] },
    { ...staging, groups: ['staging'] },
    { ...analytics, groups: ['analytics', 'production'] },
  ]);
  assert.deepEqual(e, {
    idleTimeoutMs: 5 * MIN,
    maxDurationMs: HOUR,
    // 10m does not fit before a 5m idle timeout; 3m is the longest that does.
    warnBeforeMs: 3 * MIN,
    maxRenewals: 3,
    activity: 'input',
    onLock: 'end',
    groups: ['analytics', 'production', 'staging'],
  });
  const traffic = strictest([prod, analytics]);
  assert.equal(traffic.activity, 'input+traffic');
  assert.deepEqual(traffic.groups, []);
  assert.throws(() => strictest([]), { code: ErrorCode.INTERNAL });
});
