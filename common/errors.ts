/**
 * Every failure Latch reports carries one of these stable codes. Callers branch on `code`,
 * never on message text. tunnel/PROTOCOL.md lists them with their meaning.
 */
export const ErrorCode = {
  // Wire protocol (tunnel/)
  PROTOCOL: 'LATCH_ERR_PROTOCOL',
  BAD_VERSION: 'LATCH_ERR_BAD_VERSION',
  UNKNOWN_FRAME_TYPE: 'LATCH_ERR_UNKNOWN_FRAME_TYPE',
  FRAME_TOO_LARGE: 'LATCH_ERR_FRAME_TOO_LARGE',
  FLOW_CONTROL: 'LATCH_ERR_FLOW_CONTROL',
  BUFFER_LIMIT: 'LATCH_ERR_BUFFER_LIMIT',
  STREAM_LIMIT: 'LATCH_ERR_STREAM_LIMIT',
  UNKNOWN_STREAM: 'LATCH_ERR_UNKNOWN_STREAM',
  STREAM_RESET: 'LATCH_ERR_STREAM_RESET',
  KEEPALIVE_TIMEOUT: 'LATCH_ERR_KEEPALIVE_TIMEOUT',
  SUBPROTOCOL: 'LATCH_ERR_SUBPROTOCOL',
  CONNECTION_CLOSED: 'LATCH_ERR_CONNECTION_CLOSED',
  // Resources and dialing (proxy/)
  UNKNOWN_RESOURCE: 'LATCH_ERR_UNKNOWN_RESOURCE',
  DIAL_FAILED: 'LATCH_ERR_DIAL_FAILED',
  // Sign-in and certificates
  CA_MISMATCH: 'LATCH_ERR_CA_MISMATCH',
  CERT_UNKNOWN: 'LATCH_ERR_CERT_UNKNOWN',
  CERT_EXPIRED: 'LATCH_ERR_CERT_EXPIRED',
  CERT_REVOKED: 'LATCH_ERR_CERT_REVOKED',
  AUTH_REJECTED: 'LATCH_ERR_AUTH_REJECTED',
  ENROLLMENT_INVALID: 'LATCH_ERR_ENROLLMENT_INVALID',
  TOKEN_INVALID: 'LATCH_ERR_TOKEN_INVALID',
  SESSION_ENDED: 'LATCH_ERR_SESSION_ENDED',
  NOT_SIGNED_IN: 'LATCH_ERR_NOT_SIGNED_IN',
  PROXY_UNREACHABLE: 'LATCH_ERR_PROXY_UNREACHABLE',
  // Local environment
  KEYCHAIN_UNAVAILABLE: 'LATCH_ERR_KEYCHAIN_UNAVAILABLE',
  CONFIG: 'LATCH_ERR_CONFIG',
  USAGE: 'LATCH_ERR_USAGE',
  BAD_REQUEST: 'LATCH_ERR_BAD_REQUEST',
  NOT_FOUND: 'LATCH_ERR_NOT_FOUND',
  INTERNAL: 'LATCH_ERR_INTERNAL',
  // OS idle time and desktop notifications (main/core, main/cli)
  IDLE_UNAVAILABLE: 'LATCH_ERR_IDLE_UNAVAILABLE',
  IDLE_SAMPLE_FAILED: 'LATCH_ERR_IDLE_SAMPLE_FAILED',
  NOTIFY_UNAVAILABLE: 'LATCH_ERR_NOTIFY_UNAVAILABLE',
  NOTIFY_FAILED: 'LATCH_ERR_NOTIFY_FAILED',
  // Audit trail (proxy/audit): what `latch-proxy audit verify` found, and writer failures
  AUDIT_CHANGED: 'LATCH_ERR_AUDIT_CHANGED',
  AUDIT_REMOVED: 'LATCH_ERR_AUDIT_REMOVED',
  AUDIT_REORDERED: 'LATCH_ERR_AUDIT_REORDERED',
  AUDIT_TRUNCATED: 'LATCH_ERR_AUDIT_TRUNCATED',
  AUDIT_BAD_JSON: 'LATCH_ERR_AUDIT_BAD_JSON',
  AUDIT_LOCKED: 'LATCH_ERR_AUDIT_LOCKED',
  AUDIT_WRITE_FAILED: 'LATCH_ERR_AUDIT_WRITE_FAILED',
  AUDIT_CLOSED: 'LATCH_ERR_AUDIT_CLOSED',
  // Credential wipe (main/core/session): keychain items of an ended session survived every retry
  WIPE_FAILED: 'LATCH_ERR_WIPE_FAILED',
  // Session timers (proxy/session): a renew past the policy's maxRenewals
  RENEWAL_LIMIT: 'LATCH_ERR_RENEWAL_LIMIT',
  // Sign-in (proxy/): too many failed password attempts for one user from one address
  RATE_LIMITED: 'LATCH_ERR_RATE_LIMITED',
  // Managed configuration (main/electron/policy): a change to a value the administrator locked
  POLICY_LOCKED: 'LATCH_ERR_POLICY_LOCKED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const codes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codes.has(value);
}

export class LatchError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LatchError';
    this.code = code;
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }
}

/** The shape an error takes when it crosses a process boundary (HTTP body, IPC, control frame). */
export interface SerializedError {
  code: ErrorCode;
  message: string;
}

export function isLatchError(err: unknown, code?: ErrorCode): err is LatchError {
  return err instanceof LatchError && (code === undefined || err.code === code);
}

/** Rebuilds an error received from a peer; anything malformed becomes LATCH_ERR_PROTOCOL. */
export function deserializeError(value: unknown): LatchError {
  if (typeof value === 'object' && value !== null) {
    const { code, message } = value as Record<string, unknown>;
    if (isErrorCode(code) && typeof message === 'string') return new LatchError(code, message);
  }
  return new LatchError(ErrorCode.PROTOCOL, 'peer sent a malformed error');
}
