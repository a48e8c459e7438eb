/**
 * The one contract between the desktop app's main process and its window (and the browser test
 * bridge, which implements the same contract over a WebSocket). Main registers one handler per
 * invoke channel, the preload exposes exactly these channels as `window.latch`, and the renderer
 * talks to nothing else. `Record<InvokeChannel, …>` tables below make the compiler insist that
 * every channel has a validator and a place in the bridge.
 *
 * Errors: every call rejects with a plain `SerializedError` `{ code, message }`, never an Error
 * (contextBridge keeps only an Error's message, and the renderer must branch on `code`).
 * Every channel rejects with BAD_REQUEST for a payload that fails its validator and with
 * INTERNAL for a failure main did not expect.
 */
import type { EngineSnapshot, SignInRequest, TunnelInfo } from './engineState.ts';
import { ErrorCode, isErrorCode } from './errors.ts';
import type { SerializedError } from './errors.ts';

// ---------------------------------------------------------------------------------------------
// Settings

/** What a person may set in the window (an administrator may lock each of them). */
export interface DesktopSettings {
  /**
   * How long before the idle deadline the desktop warns. Never later than the policy's own
   * `warnBefore` (the proxy warns then anyway); at most half the idle timeout, so a warning
   * never follows right after the input that reset the clock.
   */
  warningLeadMs: number;
  /** Start Latch (in the tray) when the user logs in to the OS. */
  startAtLogin: boolean;
}

export interface SettingsView {
  settings: DesktopSettings;
  /** Bounds of warningLeadMs under the policy in effect (or the defaults when signed out). */
  warningLeadBounds: { minMs: number; maxMs: number };
  /** Settings fixed by managed configuration; `settings:set` refuses to change them. */
  locked: Array<keyof DesktopSettings>;
  /** The proxy an administrator preset (managed configuration); null when none was set. */
  managedProxy: ManagedProxyView | null;
}

/**
 * The administrator's proxy as the sign-in form shows it: pre-filled, and read-only when locked.
 * A locked value is enforced by main, not by the form: `session:signIn` to another proxy or CA
 * rejects with POLICY_LOCKED.
 */
export interface ManagedProxyView {
  /** `https://host[:port]`, or null when only the fingerprint is preset. */
  proxyUrl: string | null;
  /** `sha256:` + 64 hex, or null when not preset. */
  caFingerprint: string | null;
  /** Sign-in only to proxyUrl (and caFingerprint when set); anything else is refused. */
  locked: boolean;
}

/** Bounds used while no session (and so no policy) is known. */
export const DEFAULT_WARNING_LEAD_BOUNDS = { minMs: 30_000, maxMs: 10 * 60_000 } as const;
export const DEFAULT_SETTINGS: DesktopSettings = { warningLeadMs: 2 * 60_000, startAtLogin: false };

/** The lead-time bounds under a policy: from its warnBefore up to half its idle timeout. */
export function warningLeadBounds(policy: { warnBeforeMs: number; idleTimeoutMs: number } | null | undefined): { minMs: number; maxMs: number } {
  if (!policy) return { ...DEFAULT_WARNING_LEAD_BOUNDS };
  const minMs = policy.warnBeforeMs;
  return { minMs, maxMs: Math.max(minMs, Math.floor(policy.idleTimeoutMs / 2)) };
}

// ---------------------------------------------------------------------------------------------
// Invoke channels (renderer → main, request/response)

export interface ConnectRequest {
  resourceId: string;
  /** Local port on 127.0.0.1; omitted for an ephemeral one. */
  port?: number;
}

export interface ResourceRequest {
  resourceId: string;
}

export interface InvokeContract {
  /** The engine's current view. Never rejects except INTERNAL. */
  'session:snapshot': { request: void; response: EngineSnapshot };
  /**
   * Signs in with an enrollment link or a password (re-authenticates in place when a session is
   * live). Rejects with the engine's code: ENROLLMENT_INVALID, AUTH_REJECTED, CA_MISMATCH,
   * RATE_LIMITED, PROXY_UNREACHABLE, KEYCHAIN_UNAVAILABLE, USAGE (malformed link); POLICY_LOCKED
   * for a proxy or CA other than the one locked by managed configuration (SettingsView.managedProxy).
   */
  'session:signIn': { request: SignInRequest; response: EngineSnapshot };
  /** Renews the idle deadline. Rejects NOT_SIGNED_IN, RENEWAL_LIMIT, SESSION_ENDED, PROXY_UNREACHABLE. */
  'session:renew': { request: void; response: EngineSnapshot };
  /** Ends the session (logout) and wipes its keychain items. Rejects NOT_SIGNED_IN. */
  'session:signOut': { request: void; response: EngineSnapshot };
  /**
   * Opens a local listener for a resource. Rejects NOT_SIGNED_IN, UNKNOWN_RESOURCE, USAGE (port
   * out of range or in use), SESSION_ENDED.
   */
  'tunnel:connect': { request: ConnectRequest; response: TunnelInfo };
  /** Closes a resource's listener and its connections. Rejects NOT_FOUND when none is open. */
  'tunnel:disconnect': { request: ResourceRequest; response: null };
  /** Puts `127.0.0.1:PORT` of an open tunnel on the clipboard. Rejects NOT_FOUND when none is open. */
  'clipboard:copyAddress': { request: ResourceRequest; response: { address: string } };
  /** The settings, their bounds and which are locked. Never rejects except INTERNAL. */
  'settings:get': { request: void; response: SettingsView };
  /**
   * Changes some settings. Rejects BAD_REQUEST for a lead time outside the bounds in effect,
   * POLICY_LOCKED for a setting locked by managed configuration.
   */
  'settings:set': { request: Partial<DesktopSettings>; response: SettingsView };
}

export type InvokeChannel = keyof InvokeContract;
export type RequestOf<C extends InvokeChannel> = InvokeContract[C]['request'];
export type ResponseOf<C extends InvokeChannel> = InvokeContract[C]['response'];

// ---------------------------------------------------------------------------------------------
// Events (main → renderer, past tense)

export interface EventContract {
  /** The engine published a new snapshot. */
  'session:changed': EngineSnapshot;
  /** The settings (or their bounds, with a new policy) changed. */
  'settings:changed': SettingsView;
  /** A `latch://enroll?…` link was opened: the window shows sign-in with it filled in. */
  'enrollment:opened': { link: string };
}

export type EventChannel = keyof EventContract;

// ---------------------------------------------------------------------------------------------
// The channel lists, kept complete by the compiler.

const invokeTable: Record<InvokeChannel, true> = {
  'session:snapshot': true,
  'session:signIn': true,
  'session:renew': true,
  'session:signOut': true,
  'tunnel:connect': true,
  'tunnel:disconnect': true,
  'clipboard:copyAddress': true,
  'settings:get': true,
  'settings:set': true,
};
const eventTable: Record<EventChannel, true> = { 'session:changed': true, 'settings:changed': true, 'enrollment:opened': true };

export const INVOKE_CHANNELS: readonly InvokeChannel[] = Object.keys(invokeTable) as InvokeChannel[];
export const EVENT_CHANNELS: readonly EventChannel[] = Object.keys(eventTable) as EventChannel[];

export function isInvokeChannel(value: unknown): value is InvokeChannel {
  return typeof value === 'string' && Object.hasOwn(invokeTable, value);
}

export function isEventChannel(value: unknown): value is EventChannel {
  return typeof value === 'string' && Object.hasOwn(eventTable, value);
}

// ---------------------------------------------------------------------------------------------
// Payload validators: main runs these on everything a window sends.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOnlyKeys(value: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(value).every((k) => allowed.includes(k));
}

const isVoid = (v: unknown): v is void => v === undefined || v === null;
const isText = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isResourceId = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(v);
const isPort = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

function isSignInRequest(v: unknown): v is SignInRequest {
  if (!isRecord(v)) return false;
  if (v['kind'] === 'link') return hasOnlyKeys(v, ['kind', 'link']) && isText(v['link']) && v['link'].startsWith('latch://');
  if (v['kind'] === 'password') {
    return (
      hasOnlyKeys(v, ['kind', 'proxyUrl', 'caFingerprint', 'user', 'password']) &&
      isText(v['proxyUrl'], 2048) && v['proxyUrl'].startsWith('https://') &&
      isText(v['caFingerprint'], 200) && isText(v['user'], 256) && isText(v['password'], 1024)
    );
  }
  return false;
}

function isConnectRequest(v: unknown): v is ConnectRequest {
  return isRecord(v) && hasOnlyKeys(v, ['resourceId', 'port']) && isResourceId(v['resourceId']) && (v['port'] === undefined || isPort(v['port']));
}

function isResourceRequest(v: unknown): v is ResourceRequest {
  return isRecord(v) && hasOnlyKeys(v, ['resourceId']) && isResourceId(v['resourceId']);
}

function isSettingsPatch(v: unknown): v is Partial<DesktopSettings> {
  if (!isRecord(v) || !hasOnlyKeys(v, ['warningLeadMs', 'startAtLogin'])) return false;
  const lead = v['warningLeadMs'];
  if (lead !== undefined && !(typeof lead === 'number' && Number.isInteger(lead) && lead >= 0 && lead <= 24 * 3_600_000)) return false;
  return v['startAtLogin'] === undefined || typeof v['startAtLogin'] === 'boolean';
}

/** One validator per channel: the shape of a request main accepts (bounds are checked later). */
export const REQUEST_VALIDATORS: { [C in InvokeChannel]: (value: unknown) => value is RequestOf<C> } = {
  'session:snapshot': isVoid,
  'session:signIn': isSignInRequest,
  'session:renew': isVoid,
  'session:signOut': isVoid,
  'tunnel:connect': isConnectRequest,
  'tunnel:disconnect': isResourceRequest,
  'clipboard:copyAddress': isResourceRequest,
  'settings:get': isVoid,
  'settings:set': isSettingsPatch,
};

// ---------------------------------------------------------------------------------------------
// The envelope on the wire and the error shape

/** What main answers on an invoke channel; the bridge turns `ok: false` into a rejection. */
export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

export function isSerializedError(value: unknown): value is SerializedError {
  return isRecord(value) && isErrorCode(value['code']) && typeof value['message'] === 'string';
}

/** Whatever a call rejected with, as `{ code, message }` (INTERNAL when it is not one). */
export function toSerializedError(value: unknown): SerializedError {
  if (isSerializedError(value)) return { code: value.code, message: value.message };
  return { code: ErrorCode.INTERNAL, message: value instanceof Error ? value.message : 'unexpected failure' };
}

// ---------------------------------------------------------------------------------------------
// window.latch: derived from the contract, built the same way by the preload and the test bridge

type Domain<C extends string> = C extends `${infer D}:${string}` ? D : never;
type Method<C extends InvokeChannel> = RequestOf<C> extends void ? () => Promise<ResponseOf<C>> : (request: RequestOf<C>) => Promise<ResponseOf<C>>;

/** `latch.session.renew()`, `latch.tunnel.connect({ resourceId })`, … one method per invoke channel. */
export type LatchInvokeApi = {
  [D in Domain<InvokeChannel>]: { [C in InvokeChannel as C extends `${D}:${infer V}` ? V : never]: Method<C> };
};

export interface LatchApi extends LatchInvokeApi {
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends EventChannel>(event: E, listener: (payload: EventContract[E]) => void): () => void;
}

export interface BridgeTransport {
  /** Sends one request; resolves with main's envelope. */
  invoke(channel: InvokeChannel, request: unknown): Promise<IpcResult<unknown>>;
  /** Delivers every payload of `event`; returns the unsubscribe function. */
  subscribe(event: EventChannel, listener: (payload: unknown) => void): () => void;
}

/** Builds the `window.latch` object over a transport: only the contract's channels exist on it. */
export function createLatchApi(transport: BridgeTransport): LatchApi {
  const api: Record<string, unknown> = {};
  for (const channel of INVOKE_CHANNELS) {
    const [domain = '', verb = ''] = channel.split(':');
    const group = (api[domain] ??= {}) as Record<string, unknown>;
    group[verb] = async (request?: unknown): Promise<unknown> => {
      const result = await transport.invoke(channel, request ?? null);
      if (result.ok) return result.value;
      // A plain { code, message }, not an Error: contextBridge would keep only an Error's message.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw toSerializedError(result.error);
    };
  }
  api['on'] = (event: unknown, listener: unknown): (() => void) => {
    if (!isEventChannel(event)) throw new TypeError(`unknown event ${String(event)}`);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    return transport.subscribe(event, listener as (payload: unknown) => void);
  };
  return api as unknown as LatchApi;
}
