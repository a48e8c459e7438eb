// The wiper and the session machine against the real Secret Service (gnome-keyring on the test
// run's private D-Bus, started by `npm test`), with the real clock and second-scale deadlines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { CredentialsWipedMessage } from '../../../common/session.ts';
import { KeyringCredentialStore } from '../KeyringCredentialStore.ts';
import { systemClock } from './Clock.ts';
import { CredentialWiper } from './CredentialWiper.ts';
import { MemoryPendingWipes } from './PendingWipes.ts';
import { SessionMachine, type SessionEnd } from './SessionMachine.ts';
import { keychainAccounts, requireSecretService } from '../../../test/support/keychain.ts';



const uniqueService = (): string => `latch-wipe-test-${randomBytes(4).toString('hex')}`;

void test('real keychain: wipe removes every item of the session and nothing else, as secret-tool sees it', async () => {
  requireSecretService();
  const store = new KeyringCredentialStore({ service: uniqueService() });
  await store.assertAvailable();
  for (const account of ['s1:key', 's1:cert', 's1:token', 's2:token']) await store.set(account, `secret ${account}`);
  const pending = new MemoryPendingWipes();
  const wiper = new CredentialWiper({ target: store, pending });
  try {
    const result = await wiper.wipe('s1');
    assert.equal(result.deleted, 3);
    assert.deepEqual(await keychainAccounts(store.service), ['s2:token']);
    assert.deepEqual(await pending.list(), [{ sessionId: 's1', items: 3 }]);
    assert.equal((await wiper.wipe('s1')).deleted, 0, 'a second wipe is harmless');
  } finally {
    await store.delete('s2:token');
  }
});

void test('real keychain and clock: offline past the idle deadline the machine ends, the host wipes, and confirms at next contact', async () => {
  requireSecretService();
  const store = new KeyringCredentialStore({ service: uniqueService() });
  await store.assertAvailable();
  const sessionId = `sess-${randomBytes(4).toString('hex')}`;
  for (const kind of ['key', 'cert', 'token']) await store.set(`${sessionId}:${kind}`, `secret ${kind}`);
  const wiper = new CredentialWiper({ target: store, pending: new MemoryPendingWipes() });
  const machine = new SessionMachine({ clock: systemClock, checkIntervalMs: 200 });
  const warnings: number[] = [];
  const t0 = performance.now();
  machine.on('warning', () => warnings.push(performance.now() - t0));

  // The host's wiring: on end, wipe (when the session is over).
  const wiped = new Promise<{ end: SessionEnd; at: number }>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('the session did not end within 8 s')), 8_000);
    machine.on('ended', (end) => {
      const at = performance.now() - t0;
      clearTimeout(guard);
      if (!end.wipe) return resolve({ end, at });
      wiper.wipe(end.sessionId).then(() => resolve({ end, at }), reject);
    });
  });

  try {
    machine.signedIn(sessionId);
    machine.connectionRestored();
    machine.serverMessage({
      type: 'session.state',
      sessionId,
      idleRemainingMs: 2_000,
      absoluteRemainingMs: 60_000,
      renewalsLeft: 1,
      policy: { idleTimeoutMs: 2_000, maxDurationMs: 60_000, warnBeforeMs: 1_000, maxRenewals: 1, activity: 'input', onLock: 'idle', groups: ['test'] },
    });
    machine.connectionLost();

    const { end, at } = await wiped;
    assert.equal(end.reason, 'idle');
    assert.equal(end.local, true);
    assert.equal(end.message, 'Signed out: idle for 2 s');
    assert.ok(at >= 1_900 && at < 3_000, `ended ${Math.round(at)} ms after the state (deadline 2000 ms)`);
    assert.equal(warnings.length, 1);
    assert.ok((warnings[0] ?? 0) >= 900 && (warnings[0] ?? 0) < 2_000, `warned at ${Math.round(warnings[0] ?? 0)} ms (expected ~1000)`);
    assert.deepEqual(await keychainAccounts(store.service), [], 'no item of the session is left');

    // Next contact with the proxy: the confirmation goes out once.
    const sent: CredentialsWipedMessage[] = [];
    assert.equal(await wiper.confirmPending((msg) => void sent.push(msg)), 1);
    assert.deepEqual(sent, [{ type: 'credentials.wiped', sessionId, items: 3 }]);
  } finally {
    machine.dispose();
    for (const account of await store.list()) await store.delete(account);
  }
});
