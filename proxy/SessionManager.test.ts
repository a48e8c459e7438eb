import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCode } from '../common/errors.ts';
import { AuditLog, sessionHash } from './audit/index.ts';
import { silentLogger } from './logger.ts';
import type { LoginResult } from './LoginService.ts';
import { ManualClock } from './session/Clock.ts';
import { parsePolicies } from './session/Policy.ts';
import { SessionManager } from './SessionManager.ts';
import { Store } from './Store.ts';

const dir = mkdtempSync(join(tmpdir(), 'latch-manager-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SALT = Buffer.alloc(32, 7);
const T0 = Date.UTC(2025, 0, 1, 9);
let n = 0;

function setup(clock = new ManualClock(T0), storePath = join(dir, `m${++n}.db`)) {
  const store = new Store(storePath);
  const auditFile = join(dir, `audit${n}.jsonl`);
  const audit = AuditLog.open({ salt: SALT, file: auditFile, fsync: 'never', now: () => clock.now() });
  const policies = parsePolicies({ default: { idleTimeout: '10s', maxDuration: '1h', warnBefore: '2s', maxRenewals: 1 }, strict: { idleTimeout: '4s', warnBefore: '1s' } });
  const manager = new SessionManager({ store, policies, audit, log: silentLogger, clock });
  const ended: [string, string][] = [];
  manager.on('ended', (id, m) => ended.push([id, m.reason]));
  const events = (id: string): [string, unknown][] =>
    readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { session?: { uid_hash: string }; unmapped: { latch_event: string; reason?: string; ended_by?: string } })
      .filter((r) => r.session?.uid_hash === sessionHash(id, SALT))
      .map((r) => [r.unmapped.latch_event, r.unmapped.reason ?? r.unmapped.ended_by]);
  const signIn = (id: string, user = 'alice'): void => {
    store.createSession({ id, user, device: null, created: clock.now(), absoluteDeadline: clock.now() + 3_600_000, certSerial: `S${id}`, token: 't' });
    const result = { response: { sessionId: id, user }, method: 'password', device: undefined, createdAt: clock.now(), absoluteDeadline: clock.now() + 3_600_000 } as unknown as LoginResult;
    assert.equal(manager.started(result, undefined), true);
  };
  const close = async (): Promise<void> => {
    manager.close();
    await audit.close();
    store.close();
  };
  return { clock, store, manager, ended, events, signIn, close, storePath };
}

void describe('SessionManager', () => {
  void it('an idle end is stored, revoked, audited and announced once; warnings and renewals are audited', async () => {
    const { clock, store, manager, ended, events, signIn, close } = setup();
    signIn('s1');
    clock.advance(8_000);
    manager.renew('s1');
    assert.throws(() => manager.renew('s1'), { code: ErrorCode.RENEWAL_LIMIT });
    clock.advance(10_000);
    assert.deepEqual(ended, [['s1', 'idle']]);
    const row = store.getSession('s1');
    assert.deepEqual([row?.endReason, row?.endedAt], ['idle', T0 + 18_000]);
    assert.equal(store.isRevoked('Ss1'), true);
    assert.deepEqual(events('s1'), [
      ['session.started', undefined],
      ['session.warning', undefined],
      ['session.renewed', undefined],
      ['session.warning', undefined],
      ['session.ended', 'idle'],
    ]);
    await close();
  });

  void it('admin ends say who ended them; endUser ends only that user; resolve accepts a unique prefix', async () => {
    const { manager, ended, events, signIn, close } = setup();
    signIn('aaaaaaaa-1111');
    signIn('aaaaaaaa-2222');
    signIn('bbbbbbbb-1111', 'bob');
    assert.equal(manager.resolve('aaaaaaaa'), undefined, 'ambiguous');
    assert.equal(manager.resolve('aaaaaaaa-1'), 'aaaaaaaa-1111');
    assert.equal(manager.resolve('bbbb'), undefined, 'too short');
    assert.equal(manager.end('aaaaaaaa-1111', 'revoked', 'admin'), true);
    assert.equal(manager.end('aaaaaaaa-1111', 'revoked', 'admin'), false);
    assert.deepEqual(manager.endUser('bob', 'revoked', 'admin'), ['bbbbbbbb-1111']);
    assert.deepEqual(ended.map(([id]) => id), ['aaaaaaaa-1111', 'bbbbbbbb-1111']);
    assert.deepEqual(events('aaaaaaaa-1111').at(-1), ['session.ended', 'revoked']);
    assert.deepEqual(manager.list().map((s) => s.sessionId), ['aaaaaaaa-2222']);
    await close();
  });

  void it('restart: state persisted in batches comes back; passed deadlines end with their reason; ends made while down are audited', async () => {
    const first = setup();
    first.signIn('live');
    first.signIn('quick');
    first.signIn('gone');
    first.manager.openedGroup('quick', 'strict');
    first.clock.advance(3_000);
    first.manager.activity('live', { idleMs: 0, locked: false });
    await Promise.resolve();
    const before = first.manager.list().find((s) => s.sessionId === 'live');
    await first.close();

    // While down: the admin ends `gone`; 5 s pass (quick's 4 s idle deadline passes, live's does not).
    const offline = new Store(first.storePath);
    offline.endSession('gone', 'revoked', T0 + 4_000, { unaudited: true });
    offline.close();
    const clock = new ManualClock(T0 + 8_000);
    const second = setup(clock, first.storePath);
    assert.deepEqual(second.manager.restore(), { live: 1, ended: 1 });
    assert.deepEqual(second.ended, [['quick', 'idle']]);
    const live = second.manager.list()[0];
    assert.equal(live?.sessionId, 'live');
    assert.equal(live?.idleRemainingMs, (before?.idleRemainingMs ?? 0) - 5_000, 'the idle deadline did not move');
    // The same trail continues across the restart.
    assert.deepEqual(second.events('gone'), [['session.started', undefined], ['session.ended', 'revoked']]);
    assert.deepEqual(second.events('quick'), [['session.started', undefined], ['session.warning', undefined], ['session.ended', 'idle']]);
    await second.close();
  });
});
