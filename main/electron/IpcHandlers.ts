import type { EngineSnapshot, SignInRequest, TunnelInfo } from '../../common/engineState.ts';
import { ErrorCode, isErrorCode, LatchError } from '../../common/errors.ts';
import type { SerializedError } from '../../common/errors.ts';
import { isInvokeChannel, REQUEST_VALIDATORS } from '../../common/ipc.ts';
import type { InvokeChannel, IpcResult, RequestOf, ResponseOf } from '../../common/ipc.ts';
import type { DesktopSettingsStore } from './DesktopSettingsStore.ts';

/** What the window may ask of the engine (main/core/ClientEngine.ts satisfies it). */
export interface SessionEngine {
  snapshot(): EngineSnapshot;
  on(event: 'changed', listener: (snapshot: EngineSnapshot) => void): () => void;
  signIn(request: SignInRequest): Promise<unknown>;
  connect(resourceId: string, port?: number): Promise<TunnelInfo>;
  disconnect(resourceId: string): Promise<unknown>;
  renew(): Promise<unknown>;
  signOut(): Promise<unknown>;
}

export interface IpcHandlerDeps {
  engine: SessionEngine;
  settings: Pick<DesktopSettingsStore, 'view' | 'set'>;
  /** Electron: clipboard.writeText. */
  writeClipboard: (text: string) => Promise<void>;
  /** Managed configuration: throws POLICY_LOCKED for a sign-in the administrator does not allow. */
  checkSignIn?: (request: SignInRequest) => void;
}

export type IpcHandlers = { [C in InvokeChannel]: (request: RequestOf<C>) => Promise<ResponseOf<C>> };

function openTunnel(engine: SessionEngine, resourceId: string): TunnelInfo {
  const tunnel = engine.snapshot().tunnels.find((t) => t.resourceId === resourceId);
  if (!tunnel) throw new LatchError(ErrorCode.NOT_FOUND, `${resourceId} is not connected`);
  return tunnel;
}

/**
 * The one implementation of the IPC contract, shared by the Electron main process (ipcMain) and
 * the browser test bridge (WebSocket): the window sees the same behaviour in both.
 */
export function createIpcHandlers(deps: IpcHandlerDeps): IpcHandlers {
  const { engine, settings } = deps;
  return {
    'session:snapshot': () => Promise.resolve(engine.snapshot()),
    'session:signIn': async (request) => {
      deps.checkSignIn?.(request);
      await engine.signIn(request);
      return engine.snapshot();
    },
    'session:renew': async () => {
      await engine.renew();
      return engine.snapshot();
    },
    'session:signOut': async () => {
      await engine.signOut();
      return engine.snapshot();
    },
    'tunnel:connect': (request) => (request.port === undefined ? engine.connect(request.resourceId) : engine.connect(request.resourceId, request.port)),
    'tunnel:disconnect': async (request) => {
      openTunnel(engine, request.resourceId);
      await engine.disconnect(request.resourceId);
      return null;
    },
    'clipboard:copyAddress': async (request) => {
      const tunnel = openTunnel(engine, request.resourceId);
      const address = `${tunnel.host}:${tunnel.port}`;
      await deps.writeClipboard(address);
      return { address };
    },
    'settings:get': () => Promise.resolve(settings.view()),
    'settings:set': (request) => settings.set(request),
  };
}

/** A failure as the window sees it: LatchErrors keep their code; anything else is INTERNAL. */
export function serializeFailure(err: unknown): SerializedError {
  if (err instanceof LatchError) return { code: err.code, message: err.message };
  if (typeof err === 'object' && err !== null && isErrorCode((err as { code?: unknown }).code) && typeof (err as { message?: unknown }).message === 'string') {
    return { code: (err as SerializedError).code, message: (err as SerializedError).message };
  }
  // No stack or internals cross into the window.
  return { code: ErrorCode.INTERNAL, message: 'Latch hit an unexpected error; see the log for details' };
}

/**
 * Validates and runs one request. Always resolves: a refusal is `{ ok: false, error }`, so the
 * code survives the trip (Electron would wrap a thrown error's message and drop the code).
 */
export async function dispatchIpc(handlers: IpcHandlers, channel: unknown, request: unknown, onUnexpected?: (channel: string, err: unknown) => void): Promise<IpcResult<unknown>> {
  if (!isInvokeChannel(channel)) return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'unknown channel' } };
  const validate = REQUEST_VALIDATORS[channel] as (value: unknown) => boolean;
  if (!validate(request)) return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: `malformed request for ${channel}` } };
  const handler = handlers[channel] as (request: unknown) => Promise<unknown>;
  try {
    return { ok: true, value: await handler(request ?? undefined) };
  } catch (err) {
    const error = serializeFailure(err);
    if (error.code === ErrorCode.INTERNAL) onUnexpected?.(channel, err);
    return { ok: false, error };
  }
}
