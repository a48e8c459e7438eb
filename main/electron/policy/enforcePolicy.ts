import type { SignInRequest } from '../../../common/engineState.ts';
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { DesktopSettings } from '../../../common/ipc.ts';
import { normalizeFingerprint, parseEnrollmentLink } from '../../core/Enrollment.ts';
import type { ManagedPolicy } from './ManagedPolicy.ts';

/** The desktop settings the policy fixes (they show as locked and `settings:set` refuses them). */
export function managedSettings(policy: ManagedPolicy): Partial<DesktopSettings> {
  const out: Partial<DesktopSettings> = {};
  if (policy.startAtLogin !== undefined) out.startAtLogin = policy.startAtLogin;
  return out;
}

/** The administrator's bounds on the warning lead time, for DesktopSettingsStore. */
export function managedLeadBounds(policy: ManagedPolicy): { minMs?: number; maxMs?: number } {
  const out: { minMs?: number; maxMs?: number } = {};
  if (policy.warnLeadMinMs !== undefined) out.minMs = policy.warnLeadMinMs;
  if (policy.warnLeadMaxMs !== undefined) out.maxMs = policy.warnLeadMaxMs;
  return out;
}

/**
 * Refuses (LATCH_ERR_POLICY_LOCKED) a sign-in to any other proxy or CA than the locked ones.
 * A malformed link passes through: sign-in itself rejects it with its own code.
 */
export function checkSignInAllowed(policy: ManagedPolicy, request: SignInRequest): void {
  if (policy.lockProxy !== true || policy.proxyUrl === undefined) return;
  let target: { proxyUrl: string; caFingerprint: string };
  if (request.kind === 'password') {
    target = request;
  } else {
    try {
      target = parseEnrollmentLink(request.link);
    } catch {
      return;
    }
  }
  let proxyUrl: string;
  let fingerprint: string;
  try {
    proxyUrl = new URL(target.proxyUrl).origin;
    fingerprint = normalizeFingerprint(target.caFingerprint);
  } catch {
    return;
  }
  if (proxyUrl !== policy.proxyUrl) {
    throw new LatchError(ErrorCode.POLICY_LOCKED, `your administrator allows sign-in only to ${policy.proxyUrl}`);
  }
  if (policy.caFingerprint !== undefined && fingerprint !== policy.caFingerprint) {
    throw new LatchError(ErrorCode.POLICY_LOCKED, 'your administrator pinned a different CA fingerprint for this proxy');
  }
}

/**
 * Whether a session restored at start (signed in before the policy arrived) may go on: with a
 * locked proxy, a session with any other proxy is ended.
 */
export function sessionAllowed(policy: ManagedPolicy, session: { proxyUrl: string } | null): boolean {
  if (session === null || policy.lockProxy !== true || policy.proxyUrl === undefined) return true;
  try {
    return new URL(session.proxyUrl).origin === policy.proxyUrl;
  } catch {
    return false;
  }
}
