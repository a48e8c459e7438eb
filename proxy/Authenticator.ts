import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
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
}

export class Authenticator {
  private readonly store: Store;
  private readonly now: () => number;

  constructor(options: AuthenticatorOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
  }

  authenticate(req: IncomingMessage): Authenticated {
    const socket = req.socket as TLSSocket;
    const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (!cert || Object.keys(cert).length === 0) {
      throw new LatchError(ErrorCode.CERT_UNKNOWN, 'a client certificate from this proxy is required (sign in first)');
    }
    if (!socket.authorized) {
      const reason = String(socket.authorizationError ?? '');
      if (reason === 'CERT_HAS_EXPIRED') throw new LatchError(ErrorCode.CERT_EXPIRED, 'the client certificate has expired: sign in again');
      throw new LatchError(ErrorCode.CERT_UNKNOWN, 'the client certificate was not issued by this proxy');
    }
    // TLS session resumption skips chain verification, so check the validity window ourselves.
    const now = this.now();
    if (Date.parse(cert.valid_to) <= now) throw new LatchError(ErrorCode.CERT_EXPIRED, 'the client certificate has expired: sign in again');

    const serial = normalizeSerial(cert.serialNumber);
    const session = this.store.sessionBySerial(serial);
    if (!session) throw new LatchError(ErrorCode.CERT_UNKNOWN, 'the client certificate belongs to no session on this proxy');
    if (session.endedAt !== null) {
      throw new LatchError(ErrorCode.SESSION_ENDED, `the session has ended (${session.endReason ?? 'ended'}): sign in again`);
    }
    if (this.store.isRevoked(serial)) throw new LatchError(ErrorCode.CERT_REVOKED, 'the client certificate has been revoked');
    if (session.absoluteDeadline <= now) {
      this.store.endSession(session.id, 'absolute', now);
      throw new LatchError(ErrorCode.SESSION_ENDED, 'the session reached its maximum duration: sign in again');
    }

    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+([A-Za-z0-9_-]{1,256})\s*$/.exec(header);
    if (!match?.[1] || !tokenMatches(match[1], session.tokenHash)) {
      throw new LatchError(ErrorCode.TOKEN_INVALID, 'the bearer token is missing or does not belong to this session');
    }
    return { session, serial };
  }
}
