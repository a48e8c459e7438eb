import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../common/errors.ts';
import { INVOKE_CHANNELS } from '../../common/ipc.ts';
import type { IpcHandlers } from './IpcHandlers.ts';
import { isTrustedSender, registerIpc } from './IpcRouter.ts';
import type { IpcSender } from './IpcRouter.ts';

const APP = 'file:///opt/Latch/resources/app/dist/renderer/index.html';

test('only our window, our page, its main frame is trusted', () => {
  const ok: IpcSender = { webContentsId: 1, frameUrl: APP, isMainFrame: true };
  assert.equal(isTrustedSender(ok, [1], APP), true);
  assert.equal(isTrustedSender({ ...ok, webContentsId: 2 }, [1], APP), false);
  assert.equal(isTrustedSender({ ...ok, isMainFrame: false }, [1], APP), false);
  assert.equal(isTrustedSender({ ...ok, frameUrl: undefined }, [1], APP), false);
  assert.equal(isTrustedSender({ ...ok, frameUrl: 'file:///tmp/evil.html' }, [1], APP), false);
  assert.equal(isTrustedSender({ ...ok, frameUrl: 'https://evil.example/' }, [1], APP), false);
  assert.equal(isTrustedSender({ ...ok, frameUrl: `${APP}#settings` }, [1], APP), true);
  assert.equal(isTrustedSender({ ...ok, frameUrl: 'app://latch/index.html' }, [1], 'app://latch/'), true);
  assert.equal(isTrustedSender({ ...ok, frameUrl: 'app://other/index.html' }, [1], 'app://latch/'), false);
  assert.equal(isTrustedSender(ok, [], APP), false);
});

interface FakeEvent {
  sender: IpcSender;
}

function stubIpcMain() {
  const handlers = new Map<string, (event: FakeEvent, ...args: unknown[]) => Promise<unknown>>();
  return {
    handlers,
    ipcMain: {
      handle: (channel: string, listener: (event: FakeEvent, ...args: unknown[]) => Promise<unknown>) => void handlers.set(channel, listener),
      removeHandler: (channel: string) => void handlers.delete(channel),
    },
  };
}

test('registers every channel once; untrusted senders are refused and logged', async () => {
  const { ipcMain, handlers } = stubIpcMain();
  const ran: string[] = [];
  const impl = Object.fromEntries(INVOKE_CHANNELS.map((c) => [c, () => {
    ran.push(c);
    return Promise.resolve('done');
  }])) as unknown as IpcHandlers;
  const log: string[] = [];
  const unregister = registerIpc({ ipcMain, handlers: impl, senderOf: (e: FakeEvent) => e.sender, trustedWebContents: () => [7], appUrl: APP, log: (l) => log.push(l) });
  assert.deepEqual([...handlers.keys()].sort(), [...INVOKE_CHANNELS].sort());

  const renew = handlers.get('session:renew');
  assert.ok(renew);
  assert.deepEqual(await renew({ sender: { webContentsId: 7, frameUrl: APP, isMainFrame: true } }, null), { ok: true, value: 'done' });
  assert.deepEqual(await renew({ sender: { webContentsId: 8, frameUrl: APP, isMainFrame: true } }, null), { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'refused: not a Latch window' } });
  assert.deepEqual(await renew({ sender: { webContentsId: 7, frameUrl: APP, isMainFrame: true } }, null, 'extra'), { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'malformed request for session:renew' } });
  assert.deepEqual(ran, ['session:renew']);
  assert.equal(log.length, 1);
  assert.match(log[0] ?? '', /refused session:renew from webContents 8/);
  unregister();
  assert.equal(handlers.size, 0);
});
