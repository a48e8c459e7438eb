/**
 * Session control messages carried in CONTROL frames (stream 0, JSON). The proxy is the
 * authority; the client mirrors its deadlines to warn early and to fail closed. Every time on
 * the wire is a remaining duration in milliseconds, never a wall-clock timestamp.
 */
import type { EndReason } from './closeCodes.ts';
import type { SerializedError } from './errors.ts';

export type ActivityMode = 'input' | 'input+traffic';
export type LockMode = 'idle' | 'end';
export type DeadlineKind = 'idle' | 'absolute';

/** The policy in effect for a session: the strictest among the groups of resources it opened. */
export interface EffectivePolicy {
  idleTimeoutMs: number;
  maxDurationMs: number;
  warnBeforeMs: number;
  maxRenewals: number;
  activity: ActivityMode;
  onLock: LockMode;
  /** Groups whose policies were combined (for display: "production policy in effect"). */
  groups: string[];
}

// server → client

export interface SessionStateMessage {
  type: 'session.state';
  sessionId: string;
  /**
   * Never more than absoluteRemainingMs: the idle deadline is capped at the absolute one. Equal
   * means it *is* the absolute one, and the session ends there as 'absolute'.
   */
  idleRemainingMs: number;
  absoluteRemainingMs: number;
  renewalsLeft: number;
  policy: EffectivePolicy;
}

export interface SessionWarningMessage {
  type: 'session.warning';
  kind: DeadlineKind;
  remainingMs: number;
  /** False when renewing cannot help (absolute deadline, or no renewals left). */
  canRenew: boolean;
}

export interface SessionEndedMessage {
  type: 'session.ended';
  reason: EndReason;
  message: string;
}

/** The answer to a client request that failed (e.g. a renew past maxRenewals). */
export interface RequestErrorMessage {
  type: 'request.error';
  request: ClientMessage['type'];
  error: SerializedError;
}

export type ServerMessage = SessionStateMessage | SessionWarningMessage | SessionEndedMessage | RequestErrorMessage;

// client → server

/** Sent about every few seconds and on change: OS idle time since the last input. */
export interface ActivityMessage {
  type: 'activity';
  idleMs: number;
  locked: boolean;
}

export interface RenewMessage {
  type: 'renew';
}

export interface LogoutMessage {
  type: 'logout';
}

/** The client confirms it deleted every keychain item of the session. */
export interface CredentialsWipedMessage {
  type: 'credentials.wiped';
  sessionId: string;
  items: number;
}

export type ClientMessage = ActivityMessage | RenewMessage | LogoutMessage | CredentialsWipedMessage;

const SERVER_TYPES: ReadonlySet<string> = new Set(['session.state', 'session.warning', 'session.ended', 'request.error']);
const CLIENT_TYPES: ReadonlySet<string> = new Set(['activity', 'renew', 'logout', 'credentials.wiped']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Validates a control message from the client; anything else is undefined (a protocol error). */
export function parseClientMessage(value: unknown): ClientMessage | undefined {
  if (!isObject(value) || typeof value.type !== 'string' || !CLIENT_TYPES.has(value.type)) return undefined;
  switch (value.type) {
    case 'activity':
      return isMs(value.idleMs) && typeof value.locked === 'boolean' ? { type: 'activity', idleMs: value.idleMs, locked: value.locked } : undefined;
    case 'renew':
      return { type: 'renew' };
    case 'logout':
      return { type: 'logout' };
    case 'credentials.wiped':
      return typeof value.sessionId === 'string' && isMs(value.items) ? { type: 'credentials.wiped', sessionId: value.sessionId, items: value.items } : undefined;
    default:
      return undefined;
  }
}

const END_REASONS: ReadonlySet<string> = new Set(['idle', 'absolute', 'revoked', 'logout', 'replaced', 'error']);

function isPolicy(v: unknown): v is EffectivePolicy {
  return (
    isObject(v) && isMs(v.idleTimeoutMs) && isMs(v.maxDurationMs) && isMs(v.warnBeforeMs) && isMs(v.maxRenewals) &&
    (v.activity === 'input' || v.activity === 'input+traffic') && (v.onLock === 'idle' || v.onLock === 'end') &&
    Array.isArray(v.groups) && v.groups.every((g) => typeof g === 'string')
  );
}

/** Validates a control message from the proxy; anything malformed is undefined (a protocol error). */
export function parseServerMessage(value: unknown): ServerMessage | undefined {
  if (!isObject(value) || typeof value.type !== 'string' || !SERVER_TYPES.has(value.type)) return undefined;
  const ok =
    value.type === 'session.state'
      ? typeof value.sessionId === 'string' && isMs(value.idleRemainingMs) && isMs(value.absoluteRemainingMs) && isMs(value.renewalsLeft) && isPolicy(value.policy)
      : value.type === 'session.warning'
        ? (value.kind === 'idle' || value.kind === 'absolute') && isMs(value.remainingMs) && typeof value.canRenew === 'boolean'
        : value.type === 'session.ended'
          ? typeof value.reason === 'string' && END_REASONS.has(value.reason) && typeof value.message === 'string'
          : typeof value.request === 'string' && isObject(value.error);
  return ok ? (value as unknown as ServerMessage) : undefined;
}
