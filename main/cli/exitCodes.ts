import type { EndReason } from '../../common/closeCodes.ts';

/**
 * Exit codes of `latch`. Scripts may rely on them; `latch help` lists them.
 * 0 success; 1 an error (printed as `latch: <CODE>: <message>`); 2 bad usage;
 * 10-15 `latch connect` ended because the proxy ended the session, one code per reason;
 * 16 `latch connect` lost its tunnel without the session ending (network, proxy shutdown).
 */
export const ExitCode = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  SESSION_IDLE: 10,
  SESSION_ABSOLUTE: 11,
  SESSION_REVOKED: 12,
  SESSION_LOGOUT: 13,
  SESSION_REPLACED: 14,
  SESSION_ERROR: 15,
  TUNNEL_LOST: 16,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const BY_REASON: Readonly<Record<EndReason, ExitCode>> = {
  idle: ExitCode.SESSION_IDLE,
  absolute: ExitCode.SESSION_ABSOLUTE,
  revoked: ExitCode.SESSION_REVOKED,
  logout: ExitCode.SESSION_LOGOUT,
  replaced: ExitCode.SESSION_REPLACED,
  error: ExitCode.SESSION_ERROR,
};

export function exitCodeForReason(reason: EndReason): ExitCode {
  return BY_REASON[reason];
}
