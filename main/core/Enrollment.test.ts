import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { normalizeFingerprint, normalizeProxyUrl, parseEnrollmentLink } from './Enrollment.ts';

const HEX = 'ab'.repeat(32);
const FP = `sha256:${HEX}`;
const link = (query: string): string => `latch://enroll?${query}`;
const good = `proxy=${encodeURIComponent('https://127.0.0.1:8443')}&fp=${FP}&code=Abc123_-xyz`;

function assertUsage(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLatchError(err, ErrorCode.USAGE), `expected LATCH_ERR_USAGE, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

void test('parses a well-formed enrollment link', () => {
  assert.deepEqual(parseEnrollmentLink(link(good)), {
    proxyUrl: 'https://127.0.0.1:8443',
    caFingerprint: FP,
    code: 'Abc123_-xyz',
  });
});

void test('accepts parameters in any order and an upper-case, colon-separated fingerprint', () => {
  const colons = `sha256:${HEX.toUpperCase().match(/../g)?.join(':') ?? ''}`;
  const parsed = parseEnrollmentLink(link(`code=abcd&fp=${encodeURIComponent(colons)}&proxy=https%3A%2F%2Fproxy.example%3A9443`));
  assert.equal(parsed.caFingerprint, FP);
  assert.equal(parsed.proxyUrl, 'https://proxy.example:9443');
});

void test('rejects links that are not latch://enroll', () => {
  assertUsage(() => parseEnrollmentLink('not a link'));
  assertUsage(() => parseEnrollmentLink(`https://enroll?${good}`), /latch:\/\//);
  assertUsage(() => parseEnrollmentLink(`latch://login?${good}`), /latch:\/\/enroll/);
  assertUsage(() => parseEnrollmentLink(`latch://enroll/extra?${good}`));
  assertUsage(() => parseEnrollmentLink(`latch://enroll?${good}#frag`));
});

void test('rejects missing, repeated and unknown parameters', () => {
  assertUsage(() => parseEnrollmentLink(link(`fp=${FP}&code=abcd`)), /proxy, fp and code/);
  assertUsage(() => parseEnrollmentLink(link(`${good}&code=efgh`)), /repeats/);
  assertUsage(() => parseEnrollmentLink(link(`${good}&user=mallory`)), /unknown parameter "user"/);
});

void test('requires an https proxy with nothing but host and port', () => {
  for (const proxy of ['http://127.0.0.1:8443', 'ws://127.0.0.1', 'https://u:p@127.0.0.1', 'https://127.0.0.1/path', 'https://127.0.0.1/?q=1', 'nonsense']) {
    assertUsage(() => parseEnrollmentLink(link(`proxy=${encodeURIComponent(proxy)}&fp=${FP}&code=abcd`)));
  }
  assert.equal(normalizeProxyUrl('https://LOCALHOST:443/'), 'https://localhost');
});

void test('rejects fingerprints of the wrong shape', () => {
  for (const fp of [HEX, `sha1:${HEX}`, `sha256:${HEX.slice(2)}`, `sha256:${HEX}00`, `sha256:${'zz'.repeat(32)}`, '']) {
    assertUsage(() => normalizeFingerprint(fp), /fingerprint/);
  }
});

void test('rejects codes with characters outside the code alphabet', () => {
  for (const code of ['', 'ab', 'abc def', 'abc/def', 'x'.repeat(129)]) {
    assertUsage(() => parseEnrollmentLink(link(`proxy=https%3A%2F%2F127.0.0.1&fp=${FP}&code=${encodeURIComponent(code)}`)), /code/);
  }
});
