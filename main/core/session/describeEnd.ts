/**
 * Plain words for how a session ended (NIST 800-53 AC-12(2): an explicit logout message) and for
 * the warning before it ends (AC-12(3)), shared by every host: the terminal client, the tray and
 * the window. The terminal client's exit code per reason lives with the CLI (main/cli/exitCodes.ts).
 */
import type { EndReason } from '../../../common/closeCodes.ts';
import type { DeadlineKind } from '../../../common/session.ts';
import { formatDuration } from '../../../common/durations.ts';

/** The limits the message names, when the policy in effect is known. */
export interface EndContext {
  idleTimeoutMs?: number | undefined;
  maxDurationMs?: number | undefined;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
const SECOND = 1_000;

/** A policy limit as people say it: `15 min`, `8 h`, `1 h 30 min`, `90 s`, `2 min 30 s`. */
export function formatLimit(ms: number): string {
  const total = Math.max(0, Math.round(ms / SECOND)) * SECOND;
  const h = Math.floor(total / HOUR);
  const m = Math.floor((total % HOUR) / MINUTE);
  const s = Math.floor((total % MINUTE) / SECOND);
  const parts: string[] = [];
  if (h > 0) parts.push(`${h} h`);
  if (m > 0) parts.push(`${m} min`);
  // Seconds only matter for limits under an hour (test policies, short demos).
  if (s > 0 && h === 0) parts.push(`${s} s`);
  return parts.length > 0 ? parts.join(' ') : '0 s';
}

const usable = (ms: number | undefined): ms is number => typeof ms === 'number' && Number.isFinite(ms) && ms > 0;

/** One line that tells the person why they were signed out. */
export function describeEnd(reason: EndReason, context: EndContext = {}): string {
  switch (reason) {
    case 'idle':
      return usable(context.idleTimeoutMs) ? `Signed out: idle for ${formatLimit(context.idleTimeoutMs)}` : 'Signed out: idle for too long';
    case 'absolute':
      return usable(context.maxDurationMs)
        ? `Signed out: the ${formatLimit(context.maxDurationMs)} session limit was reached`
        : 'Signed out: the session time limit was reached';
    case 'revoked':
      return 'Signed out by an administrator';
    case 'logout':
      return 'Signed out';
    case 'replaced':
      return 'Signed in on another device';
    case 'error':
      return 'Signed out after an error';
  }
}

/** Title and body of the warning shown before a deadline (NIST 800-53 AC-12(3)). */
export function describeWarning(kind: DeadlineKind, remainingMs: number, canRenew: boolean): { title: string; body: string } {
  const title = `Latch session ends in ${formatDuration(remainingMs)}`;
  if (kind === 'absolute') return { title, body: 'The session time limit is near: sign in again to keep working.' };
  return { title, body: canRenew ? 'No activity for a while. Renew to stay signed in.' : 'No activity for a while, and no renewals are left.' };
}
