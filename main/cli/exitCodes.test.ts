import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndReason } from '../../common/closeCodes.ts';
import { USAGE } from './cli.ts';
import { ExitCode, exitCodeForReason } from './exitCodes.ts';

void test('the exit codes scripts rely on, one per end reason, all listed in latch help', () => {
  assert.deepEqual(
    Object.fromEntries(Object.values(EndReason).map((r) => [r, exitCodeForReason(r)])),
    { idle: 10, absolute: 11, revoked: 12, logout: 13, replaced: 14, error: 15 },
  );
  assert.deepEqual({ ...ExitCode }, {
    OK: 0,
    ERROR: 1,
    USAGE: 2,
    SESSION_IDLE: 10,
    SESSION_ABSOLUTE: 11,
    SESSION_REVOKED: 12,
    SESSION_LOGOUT: 13,
    SESSION_REPLACED: 14,
    SESSION_ERROR: 15,
    TUNNEL_LOST: 16,
  });
  for (const code of Object.values(ExitCode)) assert.match(USAGE, new RegExp(`\\b${code} `), `latch help lists exit ${code}`);
});
