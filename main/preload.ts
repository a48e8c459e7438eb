// The window's only door to main: exactly the IPC contract of common/ipc.ts as `window.latch`.
// ipcRenderer itself is never exposed (a page holding it could send on any channel). Built into
// one CommonJS file (main/electron/build.ts): a sandboxed preload can load nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcRendererEvent } from 'electron';
import { createLatchApi } from '../common/ipc.ts';
import type { BridgeTransport, IpcResult } from '../common/ipc.ts';

const transport: BridgeTransport = {
  invoke: (channel, request) => ipcRenderer.invoke(channel, request) as Promise<IpcResult<unknown>>,
  subscribe: (event, listener) => {
    // The Electron event (with its sender) stays here; the page gets only the payload.
    const forward = (_event: IpcRendererEvent, payload: unknown): void => listener(payload);
    ipcRenderer.on(event, forward);
    return () => {
      ipcRenderer.removeListener(event, forward);
    };
  },
};

contextBridge.exposeInMainWorld('latch', createLatchApi(transport));
