import type { EndReason } from '../../common/closeCodes.ts';

const PLAIN: Readonly<Record<EndReason, string>> = {
  idle: 'Signed out: the session was idle for too long',
  absolute: 'Signed out: the session reached its maximum duration; sign in again to continue',
  revoked: 'Signed out: an administrator ended the session',
  logout: 'Signed out: the session was logged out',
  replaced: 'Disconnected: a newer connection of this session took over',
  error: 'Signed out: the proxy ended the session because of an error',
};

/** Why a session ended, in the words a person expects (NIST 800-53 AC-12(2): an explicit message). */
export function describeEnd(reason: EndReason, detail = ''): string {
  const base = PLAIN[reason];
  const extra = detail.trim();
  return extra === '' || base.toLowerCase().includes(extra.toLowerCase()) ? base : `${base} (${extra})`;
}

/**
 * Whether the session itself is over (its credentials are worthless and must be wiped), as
 * opposed to only this connection ('replaced': the session lives on in a newer connection).
 */
export function endsSession(reason: EndReason): boolean {
  return reason !== 'replaced';
}
