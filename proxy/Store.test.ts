import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { LatchError } from '../common/errors.ts';
import { SCHEMA_VERSION, Store, normalizeEnrollmentCode, tokenMatches } from './Store.ts';

const dir = mkdtempSync(join(tmpdir(), 'latch-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): Store => new Store(join(dir, `s${++n}.db`));

void describe('Store', () => {
  void it('creates a versioned schema in WAL mode and reopens it', () => {
    const path = join(dir, 'reopen.db');
    const store = new Store(path);
    assert.equal(store.schemaVersion(), SCHEMA_VERSION);
    store.addUser('alice', 'hash');
    store.close();
    const again = new Store(path);
    assert.deepEqual(again.listUsers().map((u) => u.name), ['alice']);
    again.close();
  });

  void it('adds, lists and removes users; duplicate names and bad names are refused', () => {
    const store = fresh();
    store.addUser('bob', 'h1');
    store.addUser('alice', 'h2');
    assert.deepEqual(store.listUsers().map((u) => u.name), ['alice', 'bob']);
    assert.equal(store.passwordHash('bob'), 'h1');
    assert.throws(() => store.addUser('bob', 'h3'), (err: unknown) => err instanceof LatchError && /already exists/.test(err.message));
    assert.throws(() => store.addUser('bad name', 'h'), LatchError);
    assert.equal(store.removeUser('bob'), true);
    assert.equal(store.removeUser('bob'), false);
    assert.equal(store.passwordHash('bob'), undefined);
    store.close();
  });

  void it('an enrollment code works exactly once, and not after it expires', () => {
    const store = fresh();
    store.addUser('alice', 'h');
    const now = 1_000_000;
    const { code, expires } = store.createEnrollment('alice', 60_000, now);
    assert.equal(expires, now + 60_000);
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
    assert.equal(store.consumeEnrollment('nope', now), undefined);
    // Lower case and missing dashes are the same code.
    assert.equal(store.consumeEnrollment(code.toLowerCase().replace(/-/g, ''), now + 1), 'alice');
    assert.equal(store.consumeEnrollment(code, now + 2), undefined);

    const second = store.createEnrollment('alice', 60_000, now);
    assert.equal(store.consumeEnrollment(second.code, now + 60_000), undefined, 'expired at its deadline');
    assert.throws(() => store.createEnrollment('nobody', 1000), LatchError);
    assert.equal(normalizeEnrollmentCode('abcde-fgh1o'), 'ABCDEFGH10');
    store.close();
  });

  void it('removing a user deletes their unused codes', () => {
    const store = fresh();
    store.addUser('carol', 'h');
    const { code } = store.createEnrollment('carol', 60_000);
    store.removeUser('carol');
    assert.equal(store.consumeEnrollment(code), undefined);
    store.close();
  });

  void it('stores sessions with hashed tokens, ends them once and revokes their serial', () => {
    const store = fresh();
    const row = store.createSession({ id: 's1', user: 'alice', device: 'laptop', created: 10, absoluteDeadline: 1000, certSerial: '00ab12', token: 'tok' });
    assert.equal(row.certSerial, 'AB12');
    assert.notEqual(row.tokenHash, 'tok');
    assert.equal(tokenMatches('tok', row.tokenHash), true);
    assert.equal(tokenMatches('tok2', row.tokenHash), false);
    assert.equal(store.sessionBySerial('ab12')?.id, 's1');
    assert.equal(store.isRevoked('AB12'), false);
    assert.equal(store.endSession('s1', 'logout', 50), true);
    assert.equal(store.endSession('s1', 'revoked', 60), false);
    const ended = store.getSession('s1');
    assert.equal(ended?.endedAt, 50);
    assert.equal(ended?.endReason, 'logout');
    assert.equal(store.isRevoked('ab12'), true);
    assert.deepEqual(store.listSessions(), []);
    assert.equal(store.listSessions({ includeEnded: true }).length, 1);
    store.close();
  });

  void it('migrates a version 1 store in place, keeping its sessions', () => {
    const path = join(dir, 'v1.db');
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created INTEGER NOT NULL) STRICT;
      CREATE TABLE enrollments (code_hash TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, created INTEGER NOT NULL, expires INTEGER NOT NULL, used_at INTEGER) STRICT;
      CREATE TABLE sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, device TEXT, created INTEGER NOT NULL, absolute_deadline INTEGER NOT NULL, cert_serial TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL, ended_at INTEGER, end_reason TEXT) STRICT;
      CREATE INDEX sessions_user ON sessions(user);
      CREATE TABLE revoked_serials (serial TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL, reason TEXT NOT NULL) STRICT;
      INSERT INTO sessions VALUES ('old', 'alice', NULL, 100, 5000, 'AA', 'h', NULL, NULL);
      PRAGMA user_version = 1;`);
    db.close();
    const store = new Store(path);
    assert.equal(store.schemaVersion(), SCHEMA_VERSION);
    const row = store.getSession('old');
    assert.deepEqual([row?.periodStartedAt, row?.idleDeadline, row?.renewals, row?.groups], [100, null, 0, []]);
    store.close();
  });

  void it('persists timer state in one batch; re-authentication swaps the certificate and revokes the old one', () => {
    const store = fresh();
    store.createSession({ id: 's1', user: 'alice', device: null, created: 10, absoluteDeadline: 1000, certSerial: 'A1', token: 'tok', wipeReceipt: 'r1' });
    store.persistTimers([{ id: 's1', periodStartedAt: 10, absoluteDeadline: 900, lastActivityAt: 50, idleDeadline: 150, renewals: 2, groups: ['production'], warnedIdle: true, warnedAbsolute: false }]);
    const row = store.getSession('s1');
    assert.deepEqual([row?.absoluteDeadline, row?.lastActivityAt, row?.idleDeadline, row?.renewals, row?.groups, row?.warnedIdle, row?.warnedAbsolute], [900, 50, 150, 2, ['production'], true, false]);

    assert.equal(store.reauthenticate('s1', { certSerial: 'B2', token: 'tok2', wipeReceipt: 'r2', absoluteDeadline: 2000 }, 500), true);
    assert.equal(store.sessionBySerial('B2')?.id, 's1');
    assert.equal(store.sessionBySerial('A1'), undefined);
    assert.equal(store.isRevoked('A1'), true);
    assert.equal(store.sessionByRevokedSerial('A1')?.id, 's1');
    const after = store.getSession('s1');
    assert.deepEqual([after?.absoluteDeadline, after?.periodStartedAt, after?.renewals], [2000, 500, 0]);
    assert.equal(tokenMatches('tok2', after?.tokenHash ?? ''), true);

    assert.equal(store.confirmWipe('s1', 'r1').result, 'rejected', 'the receipt of the old period');
    assert.equal(store.confirmWipe('nope', 'r2').result, 'rejected');
    store.endSession('s1', 'idle', 600);
    assert.equal(store.reauthenticate('s1', { certSerial: 'C3', token: 't', wipeReceipt: 'r', absoluteDeadline: 1 }, 700), false);
    assert.equal(store.confirmWipe('s1', 'r2', 800).result, 'first', 'accepted after the end');
    assert.equal(store.confirmWipe('s1', 'r2', 900).result, 'again');
    assert.equal(store.getSession('s1')?.wipedAt, 800);
    store.close();
  });

  void it('an end made while serve is down is handed to serve once, for its audit', () => {
    const store = fresh();
    store.createSession({ id: 's1', user: 'alice', device: null, created: 10, absoluteDeadline: 1000, certSerial: 'A1', token: 'tok' });
    store.createSession({ id: 's2', user: 'alice', device: null, created: 10, absoluteDeadline: 1000, certSerial: 'A2', token: 'tok' });
    store.endSession('s1', 'revoked', 20, { unaudited: true });
    store.endSession('s2', 'logout', 30);
    assert.deepEqual(store.takeUnauditedEnds().map((s) => [s.id, s.endReason]), [['s1', 'revoked']]);
    assert.deepEqual(store.takeUnauditedEnds(), []);
    store.close();
  });
});
