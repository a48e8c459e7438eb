import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findEnrollmentLink, isEnrollmentLink } from './deepLink.ts';

test('only latch://enroll links are taken from the command line', () => {
  const link = 'latch://enroll?proxy=https%3A%2F%2Fproxy%3A8443&fp=sha256%3Aab&code=xyz';
  assert.equal(findEnrollmentLink(['/opt/Latch/latch', '--flag', link]), link);
  assert.equal(findEnrollmentLink(['/opt/Latch/latch', 'latch://evil?x', 'https://enroll']), undefined);
  assert.equal(isEnrollmentLink('latch://ENROLL?code=1'), false);
  assert.equal(isEnrollmentLink(`latch://enroll?${'a'.repeat(5000)}`), false);
  assert.equal(isEnrollmentLink('latch:enroll'), false);
});
