import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ApiErrorBody } from '../common/api.ts';
import { EndReason } from '../common/closeCodes.ts';
import type { EndReason as EndReasonType } from '../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { normalizeSerial, tokenMatches } from './Store.ts';
import type { SessionRow, Store } from './Store.ts';

/**
 * Checks an authenticated request (API call or tunnel upgrade): a client certificate that
 * chains to our CA, still valid, whose serial belongs to a live, unrevoked session, plus the
 * bearer token of that same session. The TLS layer requests the certificate but does not
 * reject (login needs none), so every check happens here, per request.
 */

export interface Authenticated {
  session: SessionRow;
  serial: string;
}

export interface AuthenticatorOptions {
  store: Store;
  now?: () => number;
  /**
   * A live session past its absolute deadline was presented (the timers end it within
   * milliseconds anyway): end it now, through the owner, so it is audited and its tunnel closed.
   */
  expire?: (sessionId: string) => void;
}

const END_REASONS: ReadonlySet<string> = new Set(Object.values(EndReason));

/**
 * A refused request. For an ended session (SESSION_ENDED, or CERT_REVOKED of an ended
 * session's certificate) the body also says why it ended, so a client that was away learns
 * the outcome at next contact.
 */
export class AuthRefusal extends LatchError {
  readonly session: SessionRow | undefined;
  readonly reason: EndReasonType | undefined;

  constructor(code: ErrorCode, message: string, session?: SessionRow, reason?: EndReasonType) {
    super(code, message);
    this.name = 'AuthRefusal';
    this.session = session;
    this.reason = reason;
  }

  override toJSON(): ApiErrorBody {
    return this.reason === undefined ? super.toJSON() : { ...super.toJSON(), reason: this.reason };
  }
}

export function endReasonOf(session: SessionRow): EndReasonType | undefined {
  return session.endReason !== null && END_REASONS.has(session.endReason) ? (session.endReason as EndReasonType) : undefined;
}

export class Authenticator {
  private readonly store: Store;
  private readonly now: () => number;
  private readonly expire: ((sessionId: string) => void) | undefined;

  constructor(options: AuthenticatorOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.expire = options.expire;
  }

  authenticate(req: IncomingMessage): Authenticated {
    const socket = req.socket as TLSSocket;
    const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (!cert || Object.keys(cert).length === 0) {
      throw new AuthRefusal(ErrorCode.CERT_UNKNOWN, 'a client certificate from this proxy is required (sign in first)');
    }
    if (!socket.authorized) {
      const reason = String(socket.authorizationError ?? '');
      if (reason === 'CERT_HAS_EXPIRED') {
        // Certificates expire with their session: say how the session ended, if it did.
        const serial = normalizeSerial(cert.serialNumber);
        const session = this.store.sessionBySerial(serial) ?? this.store.sessionByRevokedSerial(serial);
        throw new AuthRefusal(ErrorCode.CERT_EXPIRED, 'the client certificate has expired: sign in again', session, session ? endReasonOf(session) : undefined);
      }
      throw new AuthRefusal(ErrorCode.CERT_UNKNOWN, 'the client certificate was not issued by this proxy');
    }
    const serial = normalizeSerial(cert.serialNumber);
    // A re-authenticated session's previous certificate no longer names it, but still belongs to it.
    const current = this.store.sessionBySerial(serial);
    const session = current ?? this.store.sessionByRevokedSerial(serial);
    if (session?.endedAt !== null && session !== undefined) {
      const reason = endReasonOf(session);
      throw new AuthRefusal(ErrorCode.SESSION_ENDED, `the session has ended (${reason ?? 'ended'}): sign in again`, session, reason);
    }
    // TLS session resumption skips chain verification, so check the validity window ourselves.
    const now = this.now();
    if (Date.parse(cert.valid_to) <= now) throw new AuthRefusal(ErrorCode.CERT_EXPIRED, 'the client certificate has expired: sign in again', session);
    if (!session) throw new AuthRefusal(ErrorCode.CERT_UNKNOWN, 'the client certificate belongs to no session on this proxy');
    if (!current || this.store.isRevoked(serial)) {
      throw new AuthRefusal(ErrorCode.CERT_REVOKED, 'the client certificate has been revoked (replaced by signing in again)', session);
    }
    if (session.absoluteDeadline <= now) {
      if (this.expire) this.expire(session.id);
      else this.store.endSession(session.id, 'absolute', now);
      throw new AuthRefusal(ErrorCode.SESSION_ENDED, 'the session reached its maximum duration: sign in again', session, 'absolute');
    }

    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+([A-Za-z0-9_-]{1,256})\s*$/.exec(header);
    if (!match?.[1] || !tokenMatches(match[1], session.tokenHash)) {
      throw new AuthRefusal(ErrorCode.TOKEN_INVALID, 'the bearer token is missing or does not belong to this session', session);
    }
    return { session, serial };
  }
}
