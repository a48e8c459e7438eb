import { randomBytes, randomUUID } from 'node:crypto';
import type { LoginRequest, LoginResponse, ResourceInfo } from '../common/api.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';
import type { CertificateAuthority } from './CertificateAuthority.ts';
import { parseCsr } from './CertificateAuthority.ts';
import { LoginThrottle } from './LoginThrottle.ts';
import { verifyPassword } from './passwords.ts';
import type { Store } from './Store.ts';

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

export class LoginService {
  private readonly options: LoginServiceOptions;
  private readonly now: () => number;
  private readonly throttle: LoginThrottle;

  constructor(options: LoginServiceOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.throttle = options.throttle ?? new LoginThrottle({ now: this.now });
  }

  /** Returns the response and the certificate serial (for logging); throws LatchError. */
  async login(body: unknown, remoteAddress = 'unknown'): Promise<{ response: LoginResponse; serial: string }> {
    const request = parseLoginRequest(body);
    // Check the CSR before spending a one-time code on a request that cannot succeed.
    parseCsr(request.csr);
    const { store, ca, maxDurationMs } = this.options;

    let user: string;
    if (request.method === 'password') {
      this.throttle.check(remoteAddress, request.user);
      const ok = await verifyPassword(request.password, store.passwordHash(request.user));
      // One message for unknown user and wrong password: no user enumeration.
      if (!ok) {
        this.throttle.failed(remoteAddress, request.user);
        throw new LatchError(ErrorCode.AUTH_REJECTED, 'unknown user or wrong password');
      }
      this.throttle.succeeded(remoteAddress, request.user);
      user = request.user;
    } else {
      const owner = store.consumeEnrollment(request.code, this.now());
      if (owner === undefined) throw new LatchError(ErrorCode.ENROLLMENT_INVALID, 'the enrollment code is unknown, already used or expired');
      user = owner;
    }

    const now = this.now();
    const deadline = now + maxDurationMs;
    // X.509 times have whole seconds; round down so the certificate never outlives the session.
    const notAfter = new Date(Math.floor(deadline / 1000) * 1000);
    const issued = ca.issueClientCertificate(request.csr, user, notAfter, new Date(now));
    const token = randomBytes(32).toString('base64url');
    const session = store.createSession({
      id: randomUUID(),
      user,
      device: request.device ?? null,
      created: now,
      absoluteDeadline: deadline,
      certSerial: issued.serial,
      token,
    });
    return {
      response: {
        sessionId: session.id,
        user,
        certificate: issued.certPem,
        token,
        expiresInMs: Math.max(0, deadline - this.now()),
        resources: this.options.resources(),
      },
      serial: issued.serial,
    };
  }
}
