import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import { endReasonOf, errorFromBody, networkError } from './networkError.ts';

test('socket failures are PROXY_UNREACHABLE, certificate failures CA_MISMATCH, LatchErrors pass through', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(networkError(refused, 'https://p').code, ErrorCode.PROXY_UNREACHABLE);
  const tls = Object.assign(new Error('unable to verify'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  assert.equal(networkError(tls, 'https://p').code, ErrorCode.CA_MISMATCH);
  const own = new LatchError(ErrorCode.TOKEN_INVALID, 'x');
  assert.equal(networkError(own, 'https://p'), own);
});

test('error bodies keep their code; an end reason turns the message into plain words', () => {
  const plain = errorFromBody({ code: ErrorCode.AUTH_REJECTED, message: 'wrong user or password' });
  assert.equal(plain.code, ErrorCode.AUTH_REJECTED);
  assert.equal(plain.message, 'wrong user or password');
  const ended = errorFromBody({ code: ErrorCode.SESSION_ENDED, message: 'session ended', reason: 'idle' });
  assert.equal(ended.code, ErrorCode.SESSION_ENDED);
  assert.match(ended.message, /idle for too long/);
  assert.equal(endReasonOf(ended), 'idle');
  assert.equal(endReasonOf(plain), undefined);
  assert.equal(errorFromBody({ code: ErrorCode.SESSION_ENDED, message: 'm', reason: 'bogus' }).message, 'm');
  assert.equal(errorFromBody('nonsense').code, ErrorCode.PROTOCOL);
});
