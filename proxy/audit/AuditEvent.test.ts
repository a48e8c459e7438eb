import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import type { AuditEvent } from './AuditEvent.ts';
import { AUDIT_EVENT_TYPES, OCSF_VERSION, sessionHash, toOcsfRecord } from './AuditEvent.ts';
import { loadOrCreateAuditSalt } from './AuditSalt.ts';

const salt = Buffer.alloc(32, 7);
const SID = 'sess-3f1c9a7e-secret-id';
const T = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

const base = { user: 'alice', sessionId: SID, time: T, src: { ip: '127.0.0.1', port: 50123 } };

const samples: AuditEvent[] = [
  { ...base, type: 'session.started', method: 'password', device: 'laptop', expiresAt: T + 3_600_000 },
  { ...base, type: 'session.warning', deadline: 'idle', remainingMs: 120_000 },
  { ...base, type: 'session.renewed', renewals: 1, maxRenewals: 3 },
  { ...base, type: 'session.ended', reason: 'idle' },
  { ...base, type: 'session.reauthenticated', expiresAt: T + 7_200_000 },
  { ...base, type: 'connection.opened', resourceId: 'redis-prod', group: 'production', streamId: 3 },
  { ...base, type: 'connection.closed', resourceId: 'redis-prod', streamId: 3, bytesIn: 10, bytesOut: 20, durationMs: 1500 },
  { ...base, type: 'credentials.wiped', items: 3 },
  { type: 'auth.failed', user: 'mallory', code: ErrorCode.AUTH_REJECTED, method: 'password', time: T, src: { ip: '127.0.0.1' } },
];

// class_uid, category_uid, activity_id for each sample, in order.
const expected: [number, number, number][] = [
  [3002, 3, 1], [3002, 3, 99], [3002, 3, 99], [3002, 3, 2], [3002, 3, 1],
  [4014, 4, 1], [4014, 4, 2], [3002, 3, 99], [3002, 3, 1],
];

void test('every event type is covered by the samples', () => {
  assert.deepEqual(new Set(samples.map((e) => e.type)), new Set(AUDIT_EVENT_TYPES));
});

void test('each event maps to its OCSF class, category, activity and type_uid', () => {
  samples.forEach((event, i) => {
    const r = toOcsfRecord(event, { salt });
    const [cls, cat, act] = expected[i] ?? [0, 0, 0];
    assert.equal(r.class_uid, cls, event.type);
    assert.equal(r.category_uid, cat, event.type);
    assert.equal(r.activity_id, act, event.type);
    assert.equal(r.type_uid, cls * 100 + act, event.type);
    assert.equal(r.unmapped.latch_event, event.type);
    assert.equal(r.time, T);
    assert.equal(r.time_dt, '2025-01-02T03:04:05.678Z');
    assert.deepEqual(r.metadata, { version: OCSF_VERSION, product: { name: 'Latch', vendor_name: 'Latch' } });
    assert.equal(typeof r.message, 'string');
    assert.ok(r.message.length > 0);
    assert.ok([1, 2, 3].includes(r.severity_id));
  });
});

void test('fields specific to each event land where the README says', () => {
  const byType = new Map(samples.map((e) => [e.type, toOcsfRecord(e, { salt, productVersion: '0.1.0' })]));
  const ended = byType.get('session.ended');
  assert.equal(ended?.unmapped.reason, 'idle');
  assert.equal(ended?.status_id, 1);
  assert.equal(ended?.metadata.product.version, '0.1.0');
  const failed = byType.get('auth.failed');
  assert.equal(failed?.status_id, 2);
  assert.equal(failed?.status_code, ErrorCode.AUTH_REJECTED);
  assert.equal(failed?.actor.user.name, 'mallory');
  assert.equal(failed?.session, undefined);
  assert.deepEqual(failed?.src_endpoint, { ip: '127.0.0.1' });
  const closed = byType.get('connection.closed');
  assert.deepEqual(closed?.dst_endpoint, { name: 'redis-prod' });
  assert.deepEqual(closed?.traffic, { bytes_in: 10, bytes_out: 20 });
  assert.equal(closed?.duration, 1500);
  const started = byType.get('session.started');
  assert.equal(started?.actor.user.name, 'alice');
  assert.deepEqual(started?.src_endpoint, { ip: '127.0.0.1', port: 50123 });
  assert.equal(started?.session?.expiration_time_dt, '2025-01-02T04:04:05.678Z');
  assert.equal(byType.get('session.warning')?.unmapped.remaining_ms, 120_000);
  assert.equal(byType.get('credentials.wiped')?.unmapped.items, 3);
  const revoked = toOcsfRecord({ ...base, type: 'session.ended', reason: 'revoked', by: 'admin' }, { salt });
  assert.equal(revoked.severity_id, 3);
  assert.equal(revoked.unmapped.ended_by, 'admin');
  const error = toOcsfRecord({ ...base, type: 'session.ended', reason: 'error' }, { salt });
  assert.equal(error.status_id, 2);
});

void test('the clock stamps events without a time', () => {
  const r = toOcsfRecord({ type: 'session.ended', user: 'a', sessionId: 's', reason: 'logout' }, { salt, now: () => 86_400_000 });
  assert.equal(r.time, 86_400_000);
  assert.equal(r.time_dt, '1970-01-02T00:00:00.000Z');
});

void test('the session id appears only as an HMAC-SHA256 under the salt, different per salt', () => {
  const other = Buffer.alloc(32, 9);
  const a = toOcsfRecord(samples[0] as AuditEvent, { salt });
  const b = toOcsfRecord(samples[0] as AuditEvent, { salt: other });
  assert.equal(a.session?.uid_hash, createHmac('sha256', salt).update(SID).digest('hex'));
  assert.match(a.session?.uid_hash ?? '', /^[0-9a-f]{64}$/);
  assert.notEqual(a.session?.uid_hash, b.session?.uid_hash);
  // The primed-pad implementation agrees with node:crypto's HMAC for short, block-size and long keys.
  for (const key of [Buffer.alloc(16, 1), Buffer.alloc(64, 2), Buffer.alloc(100, 3)]) {
    for (const id of ['', 's', SID, 'ünïcødé-☃']) {
      assert.equal(sessionHash(id, key), createHmac('sha256', key).update(id, 'utf8').digest('hex'));
    }
  }
  for (const r of samples.map((e) => toOcsfRecord(e, { salt }))) {
    assert.ok(!JSON.stringify(r).includes(SID));
    assert.ok(!JSON.stringify(r).includes('3f1c9a7e'));
  }
});

void test('a short salt is refused', () => {
  assert.throws(() => sessionHash('s', Buffer.alloc(8)), (err) => isLatchError(err, ErrorCode.CONFIG));
});

void test('loadOrCreateAuditSalt creates a private 256-bit salt once and then reads it back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-salt-'));
  try {
    const path = join(dir, 'sub', 'audit.salt');
    const first = loadOrCreateAuditSalt(path);
    assert.equal(first.length, 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(loadOrCreateAuditSalt(path), first);
    assert.notDeepEqual(loadOrCreateAuditSalt(join(dir, 'other.salt')), first);
    assert.equal(readFileSync(path, 'utf8').trim(), first.toString('hex'));
    // A corrupted salt file is an error, never silently replaced (that would break correlation).
    const bad = join(dir, 'bad.salt');
    writeFileSync(bad, 'not hex\n');
    assert.throws(() => loadOrCreateAuditSalt(bad), (err) => isLatchError(err, ErrorCode.CONFIG));
    assert.equal(readFileSync(bad, 'utf8'), 'not hex\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
