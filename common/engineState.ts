/**
 * What the client engine shows its hosts (the terminal client, the tray, the window). One
 * snapshot type, published whole on every change: hosts render it, they never derive session
 * state on their own.
 */
import type { ResourceInfo } from './api.ts';
import type { EndReason } from './closeCodes.ts';
import type { SerializedError } from './errors.ts';
import type { DeadlineKind, EffectivePolicy } from './session.ts';

export type EnginePhase = 'signed-out' | 'signing-in' | 'connecting' | 'active' | 'warning' | 'offline' | 'ended';

export interface TunnelInfo {
  resourceId: string;
  host: string;
  port: number;
  /** Connections currently carried for this listener. */
  connections: number;
}

export interface SessionView {
  sessionId: string;
  user: string;
  proxyUrl: string;
  idleRemainingMs: number;
  absoluteRemainingMs: number;
  renewalsLeft: number;
  policy: EffectivePolicy;
}

export interface WarningView {
  kind: DeadlineKind;
  remainingMs: number;
  canRenew: boolean;
}

export interface EndedView {
  reason: EndReason;
  /** Plain words for the person: "Signed out: idle for 15 min". */
  message: string;
  /** True when the client ended on its own (proxy unreachable past the deadline). */
  local: boolean;
  /** False only while the keychain wipe is still being retried. */
  wiped: boolean;
  /** The named refusal behind an end learned from the proxy's answer (e.g. LATCH_ERR_CERT_UNKNOWN). */
  error?: SerializedError;
}

export interface EngineSnapshot {
  phase: EnginePhase;
  session: SessionView | null;
  warning: WarningView | null;
  ended: EndedView | null;
  resources: ResourceInfo[];
  tunnels: TunnelInfo[];
  /** The last error a user action produced (sign-in refused, connect failed), if any. */
  lastError: SerializedError | null;
}

export const SIGNED_OUT: EngineSnapshot = {
  phase: 'signed-out',
  session: null,
  warning: null,
  ended: null,
  resources: [],
  tunnels: [],
  lastError: null,
};

/** How a person signs in: an enrollment link, or user and password against a pinned proxy. */
export type SignInRequest =
  | { kind: 'link'; link: string }
  | { kind: 'password'; proxyUrl: string; caFingerprint: string; user: string; password: string };
