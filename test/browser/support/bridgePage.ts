// Runs IN THE PAGE (bundled to one script and added with page.addInitScript): provides
// `window.latch` over a WebSocket to the test process, built by the same createLatchApi as the
// Electron preload, so the renderer sees exactly the contract it sees in the app.
import { createLatchApi } from '../../../common/ipc.ts';
import type { BridgeTransport, EventChannel, IpcResult } from '../../../common/ipc.ts';

type Incoming = { id: number; result: IpcResult<unknown> } | { event: EventChannel; payload: unknown };

// The page's own origin: the bridge lives on the server that served the renderer.
const { host } = (globalThis as unknown as { location: { host: string } }).location;
const socket = new WebSocket(`ws://${host}/bridge`);
const opened = new Promise<void>((resolve, reject) => {
  socket.addEventListener('open', () => resolve(), { once: true });
  socket.addEventListener('error', () => reject(new Error('test bridge unreachable')), { once: true });
});
const pending = new Map<number, (result: IpcResult<unknown>) => void>();
const listeners = new Map<EventChannel, Set<(payload: unknown) => void>>();
let nextId = 1;

socket.addEventListener('message', (e: MessageEvent) => {
  const message = JSON.parse(String(e.data)) as Incoming;
  if ('id' in message) {
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  } else {
    for (const listener of listeners.get(message.event) ?? []) listener(message.payload);
  }
});
socket.addEventListener('close', () => {
  for (const resolve of pending.values()) resolve({ ok: false, error: { code: 'LATCH_ERR_CONNECTION_CLOSED', message: 'test bridge closed' } });
  pending.clear();
});

const transport: BridgeTransport = {
  async invoke(channel, request) {
    await opened;
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, channel, request }));
    });
  },
  subscribe(event, listener) {
    const set = listeners.get(event) ?? new Set();
    listeners.set(event, set);
    set.add(listener);
    return () => set.delete(listener);
  },
};

Object.defineProperty(globalThis, 'latch', { value: Object.freeze(createLatchApi(transport)), enumerable: true });
