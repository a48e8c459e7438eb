/**
 * The client ↔ proxy HTTP contract (HTTPS on the same port as the tunnel). Errors are JSON
 * `SerializedError` bodies with a 4xx/5xx status. All durations on the wire are remaining
 * milliseconds, never wall-clock timestamps (clocks differ between machines).
 */
import type { EndReason } from './closeCodes.ts';
import type { SerializedError } from './errors.ts';
import type { SessionStateMessage } from './session.ts';

export const API_PREFIX = '/v1';

export const ApiPath = {
  /** GET, no client certificate: the CA certificate PEM. The client checks its fingerprint against its pin. */
  CA: '/v1/ca',
  /** POST LoginRequest → LoginResponse, no client certificate needed. */
  LOGIN: '/v1/login',
  /** GET → ResourcesResponse. Client certificate and bearer token required. */
  RESOURCES: '/v1/resources',
  /** POST → LogoutResponse. Client certificate and bearer token required. */
  LOGOUT: '/v1/logout',
  /** WebSocket upgrade, subprotocol `latch.v1`. Client certificate and bearer token required. */
  TUNNEL: '/v1/tunnel',
  /** GET → SessionStateResponse (deadlines and policy in effect). Certificate and token required. */
  SESSION: '/v1/session',
  /** POST → SessionStateResponse after an explicit renew (`latch renew` from another terminal). Certificate and token required. */
  RENEW: '/v1/renew',
  /**
   * POST LoginRequest → LoginResponse with the SAME sessionId: signing in again before the
   * absolute deadline. Certificate and token of the live session required; the old certificate
   * is refused for new connections afterwards; open tunnels stay up.
   */
  REAUTH: '/v1/reauth',
  /**
   * POST WipedRequest → 204. The client confirms it wiped the session's keychain items. Needs no
   * certificate (they are gone by then): the wipe receipt from LoginResponse proves the sender.
   */
  WIPED: '/v1/wiped',
} as const;

export const SUBPROTOCOL = 'latch.v1';

export type LoginRequest =
  | { method: 'password'; user: string; password: string; csr: string; device?: string }
  | { method: 'enrollment'; code: string; csr: string; device?: string };

export interface ResourceInfo {
  id: string;
  group: string;
}

export interface LoginResponse {
  sessionId: string;
  user: string;
  /** PEM of the client certificate; it expires no later than the session's absolute deadline. */
  certificate: string;
  /** Bearer token for API calls and the tunnel upgrade (`Authorization: Bearer …`). */
  token: string;
  /** Remaining time until the session's absolute deadline. */
  expiresInMs: number;
  resources: ResourceInfo[];
  /** Non-secret proof for POST /v1/wiped; it authorizes nothing else. A re-authentication issues a new one. */
  wipeReceipt: string;
}

export type SessionStateResponse = Omit<SessionStateMessage, 'type'>;

export interface WipedRequest {
  sessionId: string;
  receipt: string;
  items: number;
}

export interface ResourcesResponse {
  resources: ResourceInfo[];
}

export interface LogoutResponse {
  ended: true;
}

/** Refusals of an ended session (SESSION_ENDED, CERT_REVOKED) also say why it ended. */
export type ApiErrorBody = SerializedError & { reason?: EndReason };
