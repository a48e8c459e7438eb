import { randomBytes, randomUUID } from 'node:crypto';
import type { LoginRequest, LoginResponse, ResourceInfo } from '../common/api.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';
import type { CertificateAuthority } from './CertificateAuthority.ts';
import { parseCsr } from './CertificateAuthority.ts';
import { LoginThrottle } from './LoginThrottle.ts';
import { verifyPassword } from './passwords.ts';
import type { SessionRow, Store } from './Store.ts';

/**
 * POST /v1/login: password or one-time enrollment code, plus a CSR. On success a session row
 * and a client certificate that expires no later than the session's absolute deadline.
 */

export interface LoginServiceOptions {
  store: Store;
  ca: CertificateAuthority;
  maxDurationMs: number;
  resources: () => ResourceInfo[];
  now?: () => number;
  throttle?: LoginThrottle;
}

const MAX_FIELD = 4096;

function str(value: unknown, name: string, max = MAX_FIELD): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new LatchError(ErrorCode.BAD_REQUEST, `"${name}" must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

export function parseLoginRequest(body: unknown): LoginRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new LatchError(ErrorCode.BAD_REQUEST, 'the login request must be a JSON object');
  const b = body as Record<string, unknown>;
  const csr = str(b.csr, 'csr', 32 * 1024);
  const device = b.device === undefined ? undefined : str(b.device, 'device', 200);
  const withDevice = device === undefined ? {} : { device };
  if (b.method === 'password') return { method: 'password', user: str(b.user, 'user', 64), password: str(b.password, 'password', 1024), csr, ...withDevice };
  if (b.method === 'enrollment') return { method: 'enrollment', code: str(b.code, 'code', 64), csr, ...withDevice };
  throw new LatchError(ErrorCode.BAD_REQUEST, '"method" must be "password" or "enrollment"');
}

export interface LoginResult {
  response: LoginResponse;
  /** Certificate serial (for the log). */
  serial: string;
  method: LoginRequest['method'];
  device: string | undefined;
  /** Epoch ms. */
  createdAt: number;
  absoluteDeadline: number;
}

export class LoginService {
  private readonly options: LoginServiceOptions;
  private readonly now: () => number;
  private readonly throttle: LoginThrottle;

  constructor(options: LoginServiceOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.throttle = options.throttle ?? new LoginThrottle({ now: this.now });
  }

  /** POST /v1/login. Throws LatchError. */
  async login(body: unknown, remoteAddress = 'unknown'): Promise<LoginResult> {
    const request = parseLoginRequest(body);
    // Check the CSR before spending a one-time code on a request that cannot succeed.
    parseCsr(request.csr);
    const user = await this.verify(request, remoteAddress);
    const { store } = this.options;
    const now = this.now();
    const deadline = now + this.options.maxDurationMs;
    const issued = this.issue(request.csr, user, deadline, now);
    const token = newSecret();
    const wipeReceipt = newSecret();
    const session = store.createSession({
      id: randomUUID(),
      user,
      device: request.device ?? null,
      created: now,
      absoluteDeadline: deadline,
      certSerial: issued.serial,
      token,
      wipeReceipt,
    });
    return this.result({ sessionId: session.id, user, request, issued, token, wipeReceipt, now, deadline });
  }

  /**
   * POST /v1/reauth: the user of a live session signs in again (password or enrollment code of
   * the SAME user) with a new CSR. The session keeps its id and gets a new certificate, token
   * and wipe receipt and a new absolute period of `maxDurationMs` (the policy in effect); the
   * old certificate is revoked. Throws LatchError (AUTH_REJECTED for another user's credentials).
   */
  async reauthenticate(body: unknown, session: SessionRow, maxDurationMs: number, remoteAddress = 'unknown'): Promise<LoginResult> {
    const request = parseLoginRequest(body);
    parseCsr(request.csr);
    const user = await this.verify(request, remoteAddress);
    if (user !== session.user) throw new LatchError(ErrorCode.AUTH_REJECTED, 'these credentials are not those of the signed-in user');
    const now = this.now();
    const deadline = now + Math.min(maxDurationMs, this.options.maxDurationMs);
    const issued = this.issue(request.csr, user, deadline, now);
    const token = newSecret();
    const wipeReceipt = newSecret();
    if (!this.options.store.reauthenticate(session.id, { certSerial: issued.serial, token, wipeReceipt, absoluteDeadline: deadline }, now)) {
      throw new LatchError(ErrorCode.SESSION_ENDED, 'the session ended before it could be renewed: sign in again');
    }
    return this.result({ sessionId: session.id, user, request, issued, token, wipeReceipt, now, deadline });
  }

  /** The answer to a login or a re-authentication: the same shape for both. */
  private result(o: { sessionId: string; user: string; request: LoginRequest; issued: { serial: string; certPem: string }; token: string; wipeReceipt: string; now: number; deadline: number }): LoginResult {
    return {
      response: {
        sessionId: o.sessionId,
        user: o.user,
        certificate: o.issued.certPem,
        token: o.token,
        expiresInMs: Math.max(0, o.deadline - this.now()),
        resources: this.options.resources(),
        wipeReceipt: o.wipeReceipt,
      },
      serial: o.issued.serial,
      method: o.request.method,
      device: o.request.device,
      createdAt: o.now,
      absoluteDeadline: o.deadline,
    };
  }

  /** Checks a password or consumes an enrollment code; returns the user. */
  private async verify(request: LoginRequest, remoteAddress: string): Promise<string> {
    const { store } = this.options;
    if (request.method === 'password') {
      this.throttle.check(remoteAddress, request.user);
      const ok = await verifyPassword(request.password, store.passwordHash(request.user));
      // One message for unknown user and wrong password: no user enumeration.
      if (!ok) {
        this.throttle.failed(remoteAddress, request.user);
        throw new LatchError(ErrorCode.AUTH_REJECTED, 'unknown user or wrong password');
      }
      this.throttle.succeeded(remoteAddress, request.user);
      return request.user;
    }
    const owner = store.consumeEnrollment(request.code, this.now());
    if (owner === undefined) throw new LatchError(ErrorCode.ENROLLMENT_INVALID, 'the enrollment code is unknown, already used or expired');
    return owner;
  }

  private issue(csr: string, user: string, deadline: number, now: number): { certPem: string; serial: string } {
    // X.509 times have whole seconds; round down so the certificate never outlives the session.
    const notAfter = new Date(Math.floor(deadline / 1000) * 1000);
    return this.options.ca.issueClientCertificate(csr, user, notAfter, new Date(now));
  }
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}
