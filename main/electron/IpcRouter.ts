import { ErrorCode } from '../../common/errors.ts';
import { INVOKE_CHANNELS } from '../../common/ipc.ts';
import type { IpcResult } from '../../common/ipc.ts';
import { dispatchIpc } from './IpcHandlers.ts';
import type { IpcHandlers } from './IpcHandlers.ts';

/** What main knows about who sent an IPC message (from Electron's IpcMainInvokeEvent). */
export interface IpcSender {
  /** event.sender.id */
  webContentsId: number;
  /** event.senderFrame?.url; undefined when the frame is gone. */
  frameUrl: string | undefined;
  /** The message came from the page's main frame, not an iframe. */
  isMainFrame: boolean;
}

/** The part of Electron's ipcMain the router uses; E is its event type (IpcMainInvokeEvent). */
export interface IpcMainLike<E> {
  handle(channel: string, listener: (event: E, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export interface IpcRouterOptions<E> {
  ipcMain: IpcMainLike<E>;
  handlers: IpcHandlers;
  /** Reads the sender out of Electron's event (kept here so tests can pass plain objects). */
  senderOf: (event: E) => IpcSender;
  /** The webContents ids of our own windows. */
  trustedWebContents: () => readonly number[];
  /** file:// URL of renderer/index.html (or the app origin) that our window loads. */
  appUrl: string;
  log: (line: string) => void;
}

/** True only for our own window showing our own page in its main frame. */
export function isTrustedSender(sender: IpcSender, trustedIds: readonly number[], appUrl: string): boolean {
  if (!trustedIds.includes(sender.webContentsId) || !sender.isMainFrame || sender.frameUrl === undefined) return false;
  let frame: URL;
  let app: URL;
  try {
    frame = new URL(sender.frameUrl);
    app = new URL(appUrl);
  } catch {
    return false;
  }
  if (app.protocol === 'file:') return frame.protocol === 'file:' && frame.pathname === app.pathname;
  // Compared by parts: custom schemes (app://) all have the opaque origin "null".
  return frame.protocol === app.protocol && frame.host === app.host;
}

/**
 * Registers every channel of the contract through one handle(): the sender is checked, the
 * payload validated, the result wrapped as `{ ok, value | error }`. Returns the function that
 * removes the handlers.
 */
export function registerIpc<E>(options: IpcRouterOptions<E>): () => void {
  for (const channel of INVOKE_CHANNELS) {
    options.ipcMain.handle(channel, async (event: E, ...args: unknown[]): Promise<IpcResult<unknown>> => {
      const sender = options.senderOf(event);
      if (!isTrustedSender(sender, options.trustedWebContents(), options.appUrl)) {
        options.log(`refused ${channel} from webContents ${sender.webContentsId} at ${sender.frameUrl ?? '(no frame)'}`);
        return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'refused: not a Latch window' } };
      }
      if (args.length > 1) return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: `malformed request for ${channel}` } };
      return dispatchIpc(options.handlers, channel, args[0], (ch, err) => options.log(`${ch} failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    });
  }
  return () => {
    for (const channel of INVOKE_CHANNELS) options.ipcMain.removeHandler(channel);
  };
}
