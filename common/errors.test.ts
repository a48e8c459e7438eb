import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, LatchError, deserializeError, isErrorCode } from './errors.ts';
import { CloseCode, EndReason, closeCodeForReason, reasonForCloseCode } from './closeCodes.ts';

test('every error code is unique, prefixed and round-trips through JSON', () => {
  const values = Object.values(ErrorCode);
  assert.equal(new Set(values).size, values.length);
  for (const code of values) {
    assert.match(code, /^LATCH_ERR_[A-Z_]+$/);
    const err = deserializeError(JSON.parse(JSON.stringify(new LatchError(code, 'm'))));
    assert.equal(err.code, code);
    assert.equal(err.message, 'm');
  }
});

test('a malformed error from a peer becomes LATCH_ERR_PROTOCOL', () => {
  for (const bad of [null, 'x', 42, {}, { code: 'NOPE', message: 'm' }, { code: ErrorCode.AUTH_REJECTED }]) {
    assert.equal(deserializeError(bad).code, ErrorCode.PROTOCOL);
  }
  assert.equal(isErrorCode('LATCH_ERR_NOPE'), false);
});

test('close codes are pinned and sit in the private range', () => {
  assert.deepEqual(
    { ...CloseCode },
    {
      NORMAL: 1000, GOING_AWAY: 1001,
      SESSION_IDLE: 4001, SESSION_ABSOLUTE: 4002, SESSION_REVOKED: 4003, SESSION_LOGOUT: 4004, SESSION_REPLACED: 4005, SESSION_ERROR: 4006,
      PROTOCOL_ERROR: 4100, FRAME_TOO_LARGE: 4101, FLOW_CONTROL: 4102, BUFFER_LIMIT: 4103, KEEPALIVE_TIMEOUT: 4104, BAD_VERSION: 4105,
      AUTH_FAILED: 4200, CERT_EXPIRED: 4201, CERT_REVOKED: 4202,
      SERVER_SHUTDOWN: 4900, INTERNAL_ERROR: 4999,
    },
  );
  for (const [name, code] of Object.entries(CloseCode)) {
    if (name !== 'NORMAL' && name !== 'GOING_AWAY') assert.ok(code >= 4000 && code <= 4999, name);
  }
});

test('every end reason maps to its own close code and back', () => {
  const seen = new Set<number>();
  for (const reason of Object.values(EndReason)) {
    const code = closeCodeForReason(reason);
    assert.ok(!seen.has(code));
    seen.add(code);
    assert.equal(reasonForCloseCode(code), reason);
  }
  assert.equal(reasonForCloseCode(CloseCode.PROTOCOL_ERROR), undefined);
});
