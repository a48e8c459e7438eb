/**
 * WebSocket close codes in the private range 4000-4999 (RFC 6455 §7.4.2). Session-end reasons
 * live in 40xx, protocol violations in 41xx, authentication in 42xx. tunnel/PROTOCOL.md is the
 * reference; a test pins every value.
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  // Session ended (the reason is part of the product: the client tells the user why).
  SESSION_IDLE: 4001,
  SESSION_ABSOLUTE: 4002,
  SESSION_REVOKED: 4003,
  SESSION_LOGOUT: 4004,
  SESSION_REPLACED: 4005,
  SESSION_ERROR: 4006,
  // Protocol violations: the peer gets one of these and a clean close.
  PROTOCOL_ERROR: 4100,
  FRAME_TOO_LARGE: 4101,
  FLOW_CONTROL: 4102,
  BUFFER_LIMIT: 4103,
  KEEPALIVE_TIMEOUT: 4104,
  BAD_VERSION: 4105,
  // Authentication refused after the upgrade.
  AUTH_FAILED: 4200,
  CERT_EXPIRED: 4201,
  CERT_REVOKED: 4202,
  // The proxy is shutting down; the client may reconnect.
  SERVER_SHUTDOWN: 4900,
  INTERNAL_ERROR: 4999,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const EndReason = {
  IDLE: 'idle',
  ABSOLUTE: 'absolute',
  REVOKED: 'revoked',
  LOGOUT: 'logout',
  REPLACED: 'replaced',
  ERROR: 'error',
} as const;

export type EndReason = (typeof EndReason)[keyof typeof EndReason];

const reasonToCode: Readonly<Record<EndReason, CloseCode>> = {
  idle: CloseCode.SESSION_IDLE,
  absolute: CloseCode.SESSION_ABSOLUTE,
  revoked: CloseCode.SESSION_REVOKED,
  logout: CloseCode.SESSION_LOGOUT,
  replaced: CloseCode.SESSION_REPLACED,
  error: CloseCode.SESSION_ERROR,
};

export function closeCodeForReason(reason: EndReason): CloseCode {
  return reasonToCode[reason];
}

export function reasonForCloseCode(code: number): EndReason | undefined {
  for (const [reason, c] of Object.entries(reasonToCode)) {
    if (c === code) return reason as EndReason;
  }
  return undefined;
}
