import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLatchApi, EVENT_CHANNELS, INVOKE_CHANNELS, REQUEST_VALIDATORS, toSerializedError, warningLeadBounds } from './ipc.ts';
import type { BridgeTransport, EventChannel, InvokeChannel, IpcResult } from './ipc.ts';
import { ErrorCode } from './errors.ts';

function recordingTransport(answer: (channel: InvokeChannel, request: unknown) => IpcResult<unknown>) {
  const calls: Array<{ channel: InvokeChannel; request: unknown }> = [];
  const listeners = new Map<EventChannel, Set<(p: unknown) => void>>();
  const transport: BridgeTransport = {
    invoke: (channel, request) => {
      calls.push({ channel, request });
      return Promise.resolve(answer(channel, request));
    },
    subscribe: (event, listener) => {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  };
  const emit = (event: EventChannel, payload: unknown): void => listeners.get(event)?.forEach((l) => l(payload));
  return { transport, calls, emit };
}

test('the api has one method per invoke channel and nothing else', () => {
  const { transport } = recordingTransport(() => ({ ok: true, value: null }));
  const api = createLatchApi(transport) as unknown as Record<string, unknown>;
  const methods = Object.entries(api)
    .filter(([k]) => k !== 'on')
    .flatMap(([domain, group]) => Object.keys(group as object).map((verb) => `${domain}:${verb}`))
    .sort();
  assert.deepEqual(methods, [...INVOKE_CHANNELS].sort());
  assert.equal(typeof api['on'], 'function');
});

test('a call sends its channel and request and resolves with the value', async () => {
  const { transport, calls } = recordingTransport((channel) => ({ ok: true, value: { port: 1234, channel } }));
  const api = createLatchApi(transport);
  const info = await api.tunnel.connect({ resourceId: 'redis' });
  assert.deepEqual(info, { port: 1234, channel: 'tunnel:connect' });
  await api.session.renew();
  assert.deepEqual(calls, [
    { channel: 'tunnel:connect', request: { resourceId: 'redis' } },
    { channel: 'session:renew', request: null },
  ]);
});

test('a refusal rejects with a plain { code, message } the renderer can branch on', async () => {
  const { transport } = recordingTransport(() => ({ ok: false, error: { code: ErrorCode.RENEWAL_LIMIT, message: 'no renewals left' } }));
  const api = createLatchApi(transport);
  await assert.rejects(api.session.renew(), (err: unknown) => {
    assert.deepEqual(err, { code: ErrorCode.RENEWAL_LIMIT, message: 'no renewals left' });
    assert.ok(!(err instanceof Error));
    return true;
  });
});

test('subscriptions deliver events and return a working cleanup function', () => {
  const { transport, emit } = recordingTransport(() => ({ ok: true, value: null }));
  const api = createLatchApi(transport);
  const seen: unknown[] = [];
  const off = api.on('enrollment:opened', (p) => seen.push(p));
  emit('enrollment:opened', { link: 'latch://enroll?x' });
  off();
  emit('enrollment:opened', { link: 'latch://enroll?y' });
  assert.deepEqual(seen, [{ link: 'latch://enroll?x' }]);
  assert.throws(() => api.on('nope:happened' as EventChannel, () => {}), TypeError);
  assert.deepEqual([...EVENT_CHANNELS].sort(), ['enrollment:opened', 'session:changed', 'settings:changed']);
});

test('validators accept the contract and refuse everything else', () => {
  const v = REQUEST_VALIDATORS;
  assert.ok(v['session:renew'](null) && v['session:renew'](undefined));
  assert.ok(!v['session:renew']({}));
  assert.ok(v['session:signIn']({ kind: 'link', link: 'latch://enroll?proxy=https://x&fp=sha256:aa&code=c' }));
  assert.ok(v['session:signIn']({ kind: 'password', proxyUrl: 'https://127.0.0.1:8443', caFingerprint: 'sha256:ab', user: 'ann', password: 'pw' }));
  assert.ok(!v['session:signIn']({ kind: 'password', proxyUrl: 'http://127.0.0.1:8443', caFingerprint: 'sha256:ab', user: 'ann', password: 'pw' }));
  assert.ok(!v['session:signIn']({ kind: 'link', link: 'https://evil' }));
  assert.ok(!v['session:signIn']({ kind: 'link', link: 'latch://x', extra: 1 }));
  assert.ok(!v['session:signIn']({ kind: 'password', proxyUrl: 'https://a', caFingerprint: 'f', user: '', password: 'pw' }));
  assert.ok(v['tunnel:connect']({ resourceId: 'demo-web' }) && v['tunnel:connect']({ resourceId: 'demo-web', port: 6380 }));
  assert.ok(!v['tunnel:connect']({ resourceId: '../etc' }) && !v['tunnel:connect']({ resourceId: 'a', port: 70000 }));
  assert.ok(!v['tunnel:connect']({ resourceId: 'a', port: 1.5 }) && !v['tunnel:connect']('a'));
  assert.ok(v['clipboard:copyAddress']({ resourceId: 'a' }) && !v['clipboard:copyAddress']({ resourceId: 'a', text: 'x' }));
  assert.ok(v['settings:set']({ warningLeadMs: 60_000 }) && v['settings:set']({ startAtLogin: true }) && v['settings:set']({}));
  assert.ok(!v['settings:set']({ warningLeadMs: -1 }) && !v['settings:set']({ startAtLogin: 'yes' }) && !v['settings:set']({ theme: 'dark' }));
});

test('warning lead bounds follow the policy', () => {
  assert.deepEqual(warningLeadBounds({ warnBeforeMs: 120_000, idleTimeoutMs: 900_000 }), { minMs: 120_000, maxMs: 450_000 });
  assert.deepEqual(warningLeadBounds({ warnBeforeMs: 2_000, idleTimeoutMs: 3_000 }), { minMs: 2_000, maxMs: 2_000 });
  assert.deepEqual(warningLeadBounds(null), { minMs: 30_000, maxMs: 600_000 });
});

test('anything rejected becomes { code, message }', () => {
  assert.deepEqual(toSerializedError({ code: ErrorCode.NOT_FOUND, message: 'x', stack: 'y' }), { code: ErrorCode.NOT_FOUND, message: 'x' });
  assert.deepEqual(toSerializedError(new Error('boom')), { code: ErrorCode.INTERNAL, message: 'boom' });
  assert.deepEqual(toSerializedError('??'), { code: ErrorCode.INTERNAL, message: 'unexpected failure' });
});
