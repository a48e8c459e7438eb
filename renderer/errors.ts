import type { SerializedError } from '../common/errors.ts';
import { toSerializedError } from '../common/ipc.ts';
import { ErrorCode } from '../common/errors.ts';

/** What a refused action means to the person, by code (never by message text). */
const HINTS: Partial<Record<SerializedError['code'], string>> = {
  [ErrorCode.AUTH_REJECTED]: 'The user name or password was not accepted.',
  [ErrorCode.ENROLLMENT_INVALID]: 'This enrollment link was already used or has expired. Ask for a new one.',
  [ErrorCode.CA_MISMATCH]: 'The proxy did not present the certificate this link pins. Do not continue; tell your administrator.',
  [ErrorCode.RATE_LIMITED]: 'Too many failed attempts. Wait a few minutes and try again.',
  [ErrorCode.PROXY_UNREACHABLE]: 'The proxy cannot be reached. Check your network connection.',
  [ErrorCode.KEYCHAIN_UNAVAILABLE]: 'The system keychain is not available, and Latch never stores secrets anywhere else.',
  [ErrorCode.RENEWAL_LIMIT]: 'No renewals are left for this session. Sign in again to keep working.',
  [ErrorCode.SESSION_ENDED]: 'The session has ended.',
  [ErrorCode.POLICY_LOCKED]: 'Your administrator has set this and it cannot be changed here.',
};

export interface ShownError {
  code: string;
  text: string;
}

export function describeError(err: unknown): ShownError {
  const e = toSerializedError(err);
  const hint = HINTS[e.code];
  return { code: e.code, text: hint ? `${hint} (${e.message})` : e.message };
}
