import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineSnapshot, SignInRequest } from '../../common/engineState.ts';
import { SIGNED_OUT } from '../../common/engineState.ts';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import { INVOKE_CHANNELS } from '../../common/ipc.ts';
import { DesktopSettingsStore } from './DesktopSettingsStore.ts';
import { createIpcHandlers, dispatchIpc } from './IpcHandlers.ts';
import type { SessionEngine } from './IpcHandlers.ts';

function fakeEngine(overrides: Partial<SessionEngine> = {}) {
  const calls: string[] = [];
  let snap: EngineSnapshot = { ...SIGNED_OUT, tunnels: [{ resourceId: 'redis', host: '127.0.0.1', port: 6380, connections: 0 }] };
  const engine: SessionEngine = {
    snapshot: () => snap,
    on: () => () => undefined,
    signIn: (req: SignInRequest) => {
      calls.push(`signIn:${req.kind}`);
      snap = { ...snap, phase: 'active' };
      return Promise.resolve();
    },
    connect: (id, port) => {
      calls.push(`connect:${id}:${String(port)}`);
      return Promise.resolve({ resourceId: id, host: '127.0.0.1', port: port ?? 40000, connections: 0 });
    },
    disconnect: (id) => {
      calls.push(`disconnect:${id}`);
      return Promise.resolve();
    },
    renew: () => Promise.reject(new LatchError(ErrorCode.RENEWAL_LIMIT, 'no renewals left')),
    signOut: () => Promise.reject(new Error('keychain exploded at /secret/path')),
    ...overrides,
  };
  return { engine, calls };
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'latch-ipc-'));
  const settings = new DesktopSettingsStore({ dir, managed: {}, applyStartAtLogin: () => undefined });
  await settings.load();
  const { engine, calls } = fakeEngine();
  const copied: string[] = [];
  const handlers = createIpcHandlers({ engine, settings, writeClipboard: (t) => {
      copied.push(t);
      return Promise.resolve();
    },
  });
  return { handlers, calls, copied, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('every channel of the contract has a handler', async () => {
  const { handlers, cleanup } = await setup();
  assert.deepEqual(Object.keys(handlers).sort(), [...INVOKE_CHANNELS].sort());
  cleanup();
});

test('requests reach the engine and answers come back in the envelope', async () => {
  const { handlers, calls, cleanup } = await setup();
  const signIn = await dispatchIpc(handlers, 'session:signIn', { kind: 'link', link: 'latch://enroll?x=1' });
  assert.equal(signIn.ok, true);
  assert.equal(signIn.ok && (signIn.value as EngineSnapshot).phase, 'active');
  const connect = await dispatchIpc(handlers, 'tunnel:connect', { resourceId: 'redis', port: 6380 });
  assert.deepEqual(connect, { ok: true, value: { resourceId: 'redis', host: '127.0.0.1', port: 6380, connections: 0 } });
  await dispatchIpc(handlers, 'tunnel:connect', { resourceId: 'web' });
  assert.deepEqual(calls, ['signIn:link', 'connect:redis:6380', 'connect:web:undefined']);
  cleanup();
});

test('malformed requests and unknown channels are refused before the engine sees them', async () => {
  const { handlers, calls, cleanup } = await setup();
  assert.deepEqual(await dispatchIpc(handlers, 'tunnel:connect', { resourceId: 'redis', host: '10.0.0.1' }), { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'malformed request for tunnel:connect' } });
  assert.deepEqual(await dispatchIpc(handlers, 'session:signIn', { kind: 'link', link: 'javascript:alert(1)' }), { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'malformed request for session:signIn' } });
  assert.deepEqual(await dispatchIpc(handlers, 'shell:openExternal', 'https://x'), { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'unknown channel' } });
  assert.deepEqual(await dispatchIpc(handlers, '__proto__', null), { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'unknown channel' } });
  assert.deepEqual(calls, []);
  cleanup();
});

test('refusals keep their code; unexpected failures become INTERNAL without internals', async () => {
  const { handlers, cleanup } = await setup();
  assert.deepEqual(await dispatchIpc(handlers, 'session:renew', null), { ok: false, error: { code: ErrorCode.RENEWAL_LIMIT, message: 'no renewals left' } });
  const seen: string[] = [];
  const out = await dispatchIpc(handlers, 'session:signOut', undefined, (ch) => seen.push(ch));
  assert.equal(out.ok, false);
  assert.equal(!out.ok && out.error.code, ErrorCode.INTERNAL);
  assert.ok(!out.ok && !out.error.message.includes('/secret/path'));
  assert.deepEqual(seen, ['session:signOut']);
  cleanup();
});

test('copy address writes 127.0.0.1:PORT of an open tunnel; disconnect and copy need one', async () => {
  const { handlers, copied, calls, cleanup } = await setup();
  assert.deepEqual(await dispatchIpc(handlers, 'clipboard:copyAddress', { resourceId: 'redis' }), { ok: true, value: { address: '127.0.0.1:6380' } });
  assert.deepEqual(copied, ['127.0.0.1:6380']);
  const missing = await dispatchIpc(handlers, 'clipboard:copyAddress', { resourceId: 'web' });
  assert.equal(!missing.ok && missing.error.code, ErrorCode.NOT_FOUND);
  const notOpen = await dispatchIpc(handlers, 'tunnel:disconnect', { resourceId: 'web' });
  assert.equal(!notOpen.ok && notOpen.error.code, ErrorCode.NOT_FOUND);
  assert.deepEqual(await dispatchIpc(handlers, 'tunnel:disconnect', { resourceId: 'redis' }), { ok: true, value: null });
  assert.deepEqual(calls, ['disconnect:redis']);
  cleanup();
});

test('settings go through the store with its bounds', async () => {
  const { handlers, cleanup } = await setup();
  const ok = await dispatchIpc(handlers, 'settings:set', { warningLeadMs: 60_000, startAtLogin: true });
  assert.equal(ok.ok, true);
  const bad = await dispatchIpc(handlers, 'settings:set', { warningLeadMs: 5_000 });
  assert.equal(!bad.ok && bad.error.code, ErrorCode.BAD_REQUEST);
  const view = await dispatchIpc(handlers, 'settings:get', null);
  assert.deepEqual(view.ok && view.value, { settings: { warningLeadMs: 60_000, startAtLogin: true }, warningLeadBounds: { minMs: 30_000, maxMs: 600_000 }, locked: [], managedProxy: null });
  cleanup();
});
