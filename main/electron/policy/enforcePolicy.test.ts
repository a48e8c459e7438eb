import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EngineSnapshot, SignInRequest } from '../../../common/engineState.ts';
import { ErrorCode } from '../../../common/errors.ts';
import { DesktopSettingsStore, SETTINGS_FILE } from '../DesktopSettingsStore.ts';
import { createIpcHandlers, dispatchIpc } from '../IpcHandlers.ts';
import type { SessionEngine } from '../IpcHandlers.ts';
import { checkSignInAllowed, managedLeadBounds, managedSettings, sessionAllowed } from './enforcePolicy.ts';
import { parseJsonPolicy } from './readManagedPolicy.ts';

const FP = 'sha256:3f2a9c1104b76ed5880a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60';
const OTHER_FP = `sha256:${'ab'.repeat(32)}`;
const POLICY = parseJsonPolicy(
  JSON.stringify({ proxyUrl: 'https://proxy.corp.example:8443', caFingerprint: FP, lockProxy: true, startAtLogin: true, warnLeadMin: 60, warnLeadMax: 180 }),
  'test',
).policy;

function engineStandIn(signIns: SignInRequest[]): SessionEngine {
  const snapshot = { tunnels: [] } as unknown as EngineSnapshot;
  return {
    snapshot: () => snapshot,
    on: () => () => undefined,
    signIn: (request) => {
      signIns.push(request);
      return Promise.resolve(null);
    },
    connect: () => Promise.reject(new Error('not used')),
    disconnect: () => Promise.resolve(null),
    renew: () => Promise.resolve(null),
    signOut: () => Promise.resolve(null),
  };
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'latch-policy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const applied: boolean[] = [];
  const store = new DesktopSettingsStore({ dir, managed: managedSettings(POLICY), managedLeadBounds: managedLeadBounds(POLICY), applyStartAtLogin: (on) => applied.push(on) });
  await store.load();
  const signIns: SignInRequest[] = [];
  const handlers = createIpcHandlers({ engine: engineStandIn(signIns), settings: store, writeClipboard: () => Promise.resolve(), checkSignIn: (r) => checkSignInAllowed(POLICY, r) });
  return { dir, store, handlers, signIns, applied };
}

test('managed values win over user settings and show as locked', async (t) => {
  const { store, applied } = await setup(t);
  const view = store.view();
  assert.equal(view.settings.startAtLogin, true);
  assert.deepEqual(view.locked, ['startAtLogin']);
  assert.deepEqual(applied, [true]);
  // The administrator's bounds narrow the defaults (30 s .. 10 min) to 60 s .. 180 s.
  assert.deepEqual(view.warningLeadBounds, { minMs: 60_000, maxMs: 180_000 });
  assert.equal(view.settings.warningLeadMs, 120_000);
});

test('a change to a locked value through IPC is refused with LATCH_ERR_POLICY_LOCKED, nothing written', async (t) => {
  const { dir, handlers } = await setup(t);
  const refused = await dispatchIpc(handlers, 'settings:set', { startAtLogin: false });
  assert.deepEqual(refused.ok ? null : refused.error.code, ErrorCode.POLICY_LOCKED);
  await assert.rejects(readFile(join(dir, SETTINGS_FILE)), { code: 'ENOENT' });
  const outOfBounds = await dispatchIpc(handlers, 'settings:set', { warningLeadMs: 300_000 });
  assert.equal(outOfBounds.ok ? null : outOfBounds.error.code, ErrorCode.BAD_REQUEST);
  const allowed = await dispatchIpc(handlers, 'settings:set', { warningLeadMs: 90_000 });
  assert.equal(allowed.ok, true);
});

test('a locked proxy: sign-in elsewhere is refused through IPC, the managed proxy is allowed', async (t) => {
  const { handlers, signIns } = await setup(t);
  const password = (proxyUrl: string, caFingerprint: string): SignInRequest => ({ kind: 'password', proxyUrl, caFingerprint, user: 'ada', password: 'pw' });
  const other = await dispatchIpc(handlers, 'session:signIn', password('https://evil.example', FP));
  assert.equal(other.ok ? null : other.error.code, ErrorCode.POLICY_LOCKED);
  const otherCa = await dispatchIpc(handlers, 'session:signIn', password('https://proxy.corp.example:8443', OTHER_FP));
  assert.equal(otherCa.ok ? null : otherCa.error.code, ErrorCode.POLICY_LOCKED);
  const link = `latch://enroll?proxy=${encodeURIComponent('https://evil.example')}&fp=${FP}&code=abcd1234`;
  const viaLink = await dispatchIpc(handlers, 'session:signIn', { kind: 'link', link });
  assert.equal(viaLink.ok ? null : viaLink.error.code, ErrorCode.POLICY_LOCKED);
  assert.equal(signIns.length, 0);
  const ok = await dispatchIpc(handlers, 'session:signIn', password('https://PROXY.corp.example:8443/', FP.toUpperCase().replace('SHA256', 'sha256')));
  assert.equal(ok.ok, true);
  assert.equal(signIns.length, 1);
});

test('without lockProxy any proxy may be used', () => {
  assert.doesNotThrow(() => checkSignInAllowed({ proxyUrl: 'https://proxy.corp.example' }, { kind: 'password', proxyUrl: 'https://x.example', caFingerprint: FP, user: 'a', password: 'b' }));
});

test('a restored session with another proxy is not allowed under a locked proxy', () => {
  assert.equal(sessionAllowed(POLICY, { proxyUrl: 'https://proxy.corp.example:8443' }), true);
  assert.equal(sessionAllowed(POLICY, { proxyUrl: 'https://evil.example' }), false);
  assert.equal(sessionAllowed(POLICY, null), true);
  assert.equal(sessionAllowed({ proxyUrl: 'https://proxy.corp.example' }, { proxyUrl: 'https://evil.example' }), true);
});
