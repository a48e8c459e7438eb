import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
});
