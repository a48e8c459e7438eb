/**
 * The client ↔ proxy HTTP contract (HTTPS on the same port as the tunnel). Errors are JSON
 * `SerializedError` bodies with a 4xx/5xx status. All durations on the wire are remaining
 * milliseconds, never wall-clock timestamps (clocks differ between machines).
 */
import type { SerializedError } from './errors.ts';

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
}

export interface ResourcesResponse {
  resources: ResourceInfo[];
}

export interface LogoutResponse {
  ended: true;
}

export type ApiErrorBody = SerializedError;
