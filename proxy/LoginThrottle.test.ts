import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isLatchError } from '../common/errors.ts';
import { LoginThrottle } from './LoginThrottle.ts';

void describe('LoginThrottle', () => {
  void it('refuses a user from one address after maxFailures until the window passes', () => {
    let now = 0;
    const throttle = new LoginThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      throttle.check('10.0.0.1', 'alice');
      throttle.failed('10.0.0.1', 'alice');
    }
    assert.throws(() => throttle.check('10.0.0.1', 'alice'), (err: unknown) => isLatchError(err, ErrorCode.RATE_LIMITED) && /60 s/.test(err.message));
    // Another address, or another user, is not affected.
    throttle.check('10.0.0.2', 'alice');
    throttle.check('10.0.0.1', 'bob');
    now = 60_000;
    throttle.check('10.0.0.1', 'alice');
  });

  void it('a success clears the count', () => {
    const throttle = new LoginThrottle({ maxFailures: 2, windowMs: 60_000 });
    throttle.failed('a', 'alice');
    throttle.succeeded('a', 'alice');
    throttle.failed('a', 'alice');
    throttle.check('a', 'alice');
    throttle.failed('a', 'alice');
    assert.throws(() => throttle.check('a', 'alice'), (err: unknown) => isLatchError(err, ErrorCode.RATE_LIMITED));
  });

  void it('memory stays bounded: the oldest entries are dropped beyond maxEntries', () => {
    const throttle = new LoginThrottle({ maxFailures: 1, windowMs: 60_000, maxEntries: 100 });
    throttle.failed('first', 'x');
    assert.throws(() => throttle.check('first', 'x'), (err: unknown) => isLatchError(err, ErrorCode.RATE_LIMITED));
    for (let i = 0; i < 1000; i++) throttle.failed(`addr${i}`, 'x');
    throttle.check('first', 'x');
    assert.throws(() => throttle.check('addr999', 'x'), (err: unknown) => isLatchError(err, ErrorCode.RATE_LIMITED));
  });
});
