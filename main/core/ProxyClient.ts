import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RequestOptions } from 'node:https';
import { hostname } from 'node:os';
import forge from 'node-forge';
import { ApiPath } from '../../common/api.ts';
import type { LoginRequest, LoginResponse, ResourceInfo, ResourcesResponse, SessionStateResponse, WipedRequest } from '../../common/api.ts';
import { ErrorCode, isLatchError, LatchError } from '../../common/errors.ts';
import { parseServerMessage } from '../../common/session.ts';
import type { CredentialStore } from './CredentialStore.ts';
import { normalizeFingerprint, normalizeProxyUrl } from './Enrollment.ts';
import { errorFromBody, networkError } from './networkError.ts';
import type { Profile, ProfileSession, ProfileStore } from './Profile.ts';
import { confirmPendingWipes, ProfilePendingWipes } from './ProfilePendingWipes.ts';
import { CredentialWiper } from './session/CredentialWiper.ts';
import { loadSessionSecrets, saveSessionSecrets, wipeSessionSecrets } from './SessionSecrets.ts';
import type { SessionSecrets } from './SessionSecrets.ts';

export type LoginCredentials =
  | { method: 'password'; user: string; password: string }
  | { method: 'enrollment'; code: string };

export interface ProxyClientOptions {
  proxyUrl: string;
  /** The pin: `sha256:` + hex of the proxy CA's DER, from the enrollment link or the admin. */
  caFingerprint: string;
  /** The CA PEM from an earlier, pinned fetch (the profile); checked against the pin again. */
  caPem: string | undefined;
  store: CredentialStore;
  profiles: ProfileStore;
  /** Per request, connect to last byte. */
  timeoutMs: number;
  maxResponseBytes: number;
  /**
   * How far the proxy's clock may be ahead of ours when checking that the certificate expires
   * no later than the session (its notAfter is a wall-clock time from the proxy's clock).
   */
  clockSkewMs: number;
  /** Sent with the login so the proxy's session list says which machine it is. */
  device: string;
  now: () => number;
}

export function defaultOptions(): Omit<ProxyClientOptions, 'proxyUrl' | 'caFingerprint' | 'store' | 'profiles'> {
  return { caPem: undefined, timeoutMs: 10_000, maxResponseBytes: 1 << 20, clockSkewMs: 30_000, device: hostname(), now: Date.now };
}

export type ProxyClientInit = Pick<ProxyClientOptions, 'proxyUrl' | 'caFingerprint' | 'store' | 'profiles'> &
  Partial<ProxyClientOptions>;

export function validateOptions(options: ProxyClientOptions): ProxyClientOptions {
  const positive = (name: string, v: number): void => {
    if (!Number.isFinite(v) || v <= 0) throw new LatchError(ErrorCode.CONFIG, `${name} must be a positive number`);
  };
  positive('timeoutMs', options.timeoutMs);
  positive('maxResponseBytes', options.maxResponseBytes);
  if (!Number.isFinite(options.clockSkewMs) || options.clockSkewMs < 0) {
    throw new LatchError(ErrorCode.CONFIG, 'clockSkewMs must be ≥ 0');
  }
  return { ...options, proxyUrl: normalizeProxyUrl(options.proxyUrl), caFingerprint: normalizeFingerprint(options.caFingerprint) };
}

/** `sha256:` + lowercase hex of the certificate's DER. */
export function caFingerprintOf(pem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new LatchError(ErrorCode.CA_MISMATCH, 'the proxy sent something that is not a certificate as its CA', { cause: err });
  }
  return `sha256:${createHash('sha256').update(cert.raw).digest('hex')}`;
}

/** Errors after which the session's credentials are worth nothing: the caller should wipe them. */
export function isSessionGone(err: unknown): boolean {
  return (
    isLatchError(err) &&
    (
      [ErrorCode.SESSION_ENDED, ErrorCode.CERT_EXPIRED, ErrorCode.CERT_REVOKED, ErrorCode.CERT_UNKNOWN, ErrorCode.TOKEN_INVALID] as string[]
    ).includes(err.code)
  );
}

export interface LogoutResult {
  sessionId: string;
  /** True when the proxy confirmed it ended the session (or said it had already ended). */
  proxyConfirmed: boolean;
  /** Why the proxy could not be told, when it could not. */
  proxyError?: LatchError;
  /** Keychain items removed. */
  wiped: number;
}

interface Generated {
  keyPem: string;
  spkiDer: Buffer;
  csrPem: string;
}

/**
 * HTTPS to the proxy. The CA is pinned without trust-on-first-use: GET /v1/ca is the only
 * request made without verifying the server, and its answer is used only if its fingerprint
 * equals the pin; every later request verifies the server against exactly that CA (with the
 * normal hostname check).
 */
export class ProxyClient {
  readonly options: ProxyClientOptions;
  #caPem: string | undefined;

  constructor(init: ProxyClientInit) {
    this.options = validateOptions({ ...defaultOptions(), ...init });
    if (this.options.caPem !== undefined) this.#checkPin(this.options.caPem);
    this.#caPem = this.options.caPem;
  }

  /** A client for the signed-in profile; LATCH_ERR_NOT_SIGNED_IN when there is no profile. */
  static async fromProfile(init: Pick<ProxyClientOptions, 'store' | 'profiles'> & Partial<ProxyClientOptions>): Promise<ProxyClient> {
    const profile = await init.profiles.read();
    if (profile === null) throw new LatchError(ErrorCode.NOT_SIGNED_IN, 'not signed in: run `latch login` first');
    return new ProxyClient({ ...init, proxyUrl: profile.proxyUrl, caFingerprint: profile.caFingerprint, caPem: profile.caPem });
  }

  get proxyUrl(): string {
    return this.options.proxyUrl;
  }

  /** The pinned CA PEM (fetched and checked on first use). */
  async caPem(): Promise<string> {
    if (this.#caPem !== undefined) return this.#caPem;
    const pem = (await this.#send('GET', ApiPath.CA, { pinned: false })).body.toString('utf8');
    this.#checkPin(pem);
    this.#caPem = pem;
    return pem;
  }

  /**
   * Signs in: proves the keychain works, pins the CA, generates the key pair here (the private
   * key never leaves the device), sends a CSR, checks the certificate it gets back, stores key,
   * certificate and token in the keychain and only then writes the profile.
   */
  async login(credentials: LoginCredentials): Promise<Profile> {
    const { store, profiles } = this.options;
    await store.assertAvailable();
    const previous = await profiles.read().catch(() => null);
    const caPem = await this.caPem();
    const generated = generateKeyAndCsr(credentials.method === 'password' ? credentials.user : 'latch-enrollment');
    const body: LoginRequest =
      credentials.method === 'password'
        ? { method: 'password', user: credentials.user, password: credentials.password, csr: generated.csrPem, device: this.options.device }
        : { method: 'enrollment', code: credentials.code, csr: generated.csrPem, device: this.options.device };
    const sentAt = this.options.now();
    const response = parseLoginResponse(await this.#json('POST', ApiPath.LOGIN, { body }));
    const secrets: SessionSecrets = { key: generated.keyPem, cert: response.certificate, token: response.token };
    try {
      this.#checkCertificate(response, generated.spkiDer, caPem, sentAt);
      await saveSessionSecrets(store, response.sessionId, secrets);
    } catch (err) {
      // Leave nothing behind: not in the keychain, and not a live session on the proxy.
      await wipeSessionSecrets(store, response.sessionId).catch(() => 0);
      await this.#json('POST', ApiPath.LOGOUT, { secrets, body: {} }).catch(() => undefined);
      throw err;
    }
    const session: ProfileSession = {
      id: response.sessionId,
      user: response.user,
      expiresAt: sentAt + response.expiresInMs,
      resources: response.resources,
    };
    if (response.wipeReceipt !== undefined) session.wipeReceipt = response.wipeReceipt;
    const profile: Profile = {
      version: 1,
      proxyUrl: this.proxyUrl,
      caFingerprint: this.options.caFingerprint,
      caPem,
      user: response.user,
      session,
    };
    // Wipes not yet confirmed stay queued, as long as they are for this same proxy.
    if (previous?.proxyUrl === this.proxyUrl && previous.pendingWipes !== undefined) profile.pendingWipes = previous.pendingWipes;
    await profiles.write(profile);
    if (previous?.session !== undefined && previous.session.id !== session.id) {
      await this.#retire(previous);
    }
    await this.confirmPendingWipes();
    return profile;
  }

  /**
   * `latch login` and the desktop's sign-in: while a session of the same user on the same proxy is
   * signed in, re-authenticates it in place (same session, fresh absolute period, open tunnels
   * stay up); otherwise, or when the proxy says that session is over, signs in afresh.
   */
  async signIn(credentials: LoginCredentials): Promise<{ profile: Profile; reauthenticated: boolean }> {
    const current = await this.options.profiles.read().catch(() => null);
    const session = current?.session;
    const sameUser = credentials.method === 'enrollment' || credentials.user === session?.user;
    if (session !== undefined && current?.proxyUrl === this.proxyUrl && sameUser) {
      try {
        const { profile } = await this.reauthenticate(credentials);
        return { profile, reauthenticated: true };
      } catch (err) {
        // The old session is gone (or its secrets are): a fresh sign-in replaces it.
        if (!isSessionGone(err) && !isLatchError(err, ErrorCode.NOT_SIGNED_IN)) throw err;
      }
    }
    return { profile: await this.login(credentials), reauthenticated: false };
  }

  /**
   * Re-authentication in place (POST /v1/reauth over the live session's certificate and token):
   * a NEW key pair made here, a new certificate for the same session, its items in the keychain
   * replaced, the profile's absolute deadline and wipe receipt updated. The proxy keeps the live
   * tunnel and its connections up; the old certificate is refused for new connections.
   */
  async reauthenticate(credentials: LoginCredentials): Promise<{ profile: Profile; secrets: SessionSecrets; expiresInMs: number }> {
    const { profile, session, secrets: old } = await this.signedIn();
    const caPem = await this.caPem();
    const generated = generateKeyAndCsr(session.user);
    const body: LoginRequest =
      credentials.method === 'password'
        ? { method: 'password', user: credentials.user, password: credentials.password, csr: generated.csrPem, device: this.options.device }
        : { method: 'enrollment', code: credentials.code, csr: generated.csrPem, device: this.options.device };
    const sentAt = this.options.now();
    const response = parseLoginResponse(await this.#json('POST', ApiPath.REAUTH, { body, secrets: old }));
    if (response.sessionId !== session.id) {
      throw new LatchError(ErrorCode.PROTOCOL, `the proxy answered a re-authentication of session ${session.id} with session ${response.sessionId}`);
    }
    this.#checkCertificate(response, generated.spkiDer, caPem, sentAt);
    const secrets: SessionSecrets = { key: generated.keyPem, cert: response.certificate, token: response.token };
    await saveSessionSecrets(this.options.store, session.id, secrets);
    const next: ProfileSession = { ...session, expiresAt: sentAt + response.expiresInMs, resources: response.resources };
    if (response.wipeReceipt !== undefined) next.wipeReceipt = response.wipeReceipt;
    const updated: Profile = { ...profile, user: response.user, session: next };
    await this.options.profiles.write(updated);
    return { profile: updated, secrets, expiresInMs: response.expiresInMs };
  }

  /** GET /v1/session: the deadlines and policy in effect, from the proxy's timers. */
  async sessionState(secrets?: SessionSecrets): Promise<SessionStateResponse> {
    const use = secrets ?? (await this.signedIn()).secrets;
    return parseStateResponse(await this.#json('GET', ApiPath.SESSION, { secrets: use }));
  }

  /** POST /v1/renew: resets the idle deadline; LATCH_ERR_RENEWAL_LIMIT past maxRenewals. */
  async renew(secrets?: SessionSecrets): Promise<SessionStateResponse> {
    const use = secrets ?? (await this.signedIn()).secrets;
    return parseStateResponse(await this.#json('POST', ApiPath.RENEW, { secrets: use, body: {} }));
  }

  /** POST /v1/logout with the given secrets (the engine holds them in memory). */
  async endSession(secrets: SessionSecrets): Promise<void> {
    await this.#json('POST', ApiPath.LOGOUT, { secrets, body: {} });
  }

  /** POST /v1/wiped: no client certificate (it is gone by now); the receipt proves the sender. */
  async confirmWiped(request: WipedRequest): Promise<void> {
    await this.#send('POST', ApiPath.WIPED, { pinned: true, body: request });
  }

  /** Confirms every wipe recorded in the profile and not yet confirmed; resolves with how many. */
  async confirmPendingWipes(): Promise<number> {
    return confirmPendingWipes(new ProfilePendingWipes(this.options.profiles), (request) => this.confirmWiped(request));
  }

  /** The resources the signed-in session may open, straight from the proxy. */
  async resources(): Promise<ResourceInfo[]> {
    const { secrets } = await this.signedIn();
    const raw = await this.#json('GET', ApiPath.RESOURCES, { secrets });
    const resources = (raw as Partial<ResourcesResponse> | null)?.resources;
    if (!Array.isArray(resources) || !resources.every(isResourceInfo)) {
      throw new LatchError(ErrorCode.PROTOCOL, 'the proxy sent a malformed resource list');
    }
    return resources.map((r) => ({ id: r.id, group: r.group }));
  }

  /** The profile's session and its secrets; LATCH_ERR_NOT_SIGNED_IN when either is missing. */
  async signedIn(): Promise<{ profile: Profile; session: ProfileSession; secrets: SessionSecrets }> {
    const profile = await this.options.profiles.read();
    if (profile?.session === undefined) throw new LatchError(ErrorCode.NOT_SIGNED_IN, 'not signed in: run `latch login` first');
    const secrets = await loadSessionSecrets(this.options.store, profile.session.id);
    return { profile, session: profile.session, secrets };
  }

  /**
   * Ends the session at the proxy, then wipes every keychain item of the session and forgets it
   * in the profile. The wipe happens even when the proxy cannot be reached; the result says so.
   */
  async logout(): Promise<LogoutResult | null> {
    const profile = await this.options.profiles.read();
    if (profile?.session === undefined) return null;
    const sessionId = profile.session.id;
    let proxyConfirmed = false;
    let proxyError: LatchError | undefined;
    try {
      const secrets = await loadSessionSecrets(this.options.store, sessionId);
      await this.#json('POST', ApiPath.LOGOUT, { secrets, body: {} });
      proxyConfirmed = true;
    } catch (err) {
      const e = networkError(err, this.proxyUrl);
      // A session the proxy has already ended is as good as a confirmed logout.
      if (isSessionGone(e)) proxyConfirmed = true;
      else proxyError = e;
    }
    const wiped = await this.forget(profile);
    return proxyError === undefined ? { sessionId, proxyConfirmed, wiped } : { sessionId, proxyConfirmed, proxyError, wiped };
  }

  /**
   * Wipes the session's keychain items and drops the session from the profile (the proxy URL and
   * pin stay, for the next sign-in). Used by logout and whenever the proxy says the session is over.
   */
  async forget(profile: Profile): Promise<number> {
    if (profile.session === undefined) return 0;
    const pending = new ProfilePendingWipes(this.options.profiles);
    pending.rememberReceipt(profile.session.id, profile.session.wipeReceipt);
    // Retried with backoff and verified: another process (a running `latch connect`) may be
    // wiping the same items right now, and the Secret Service trips over concurrent deletes.
    const { deleted: wiped } = await new CredentialWiper({ target: this.options.store, pending }).wipe(profile.session.id);
    const current = await this.options.profiles.read().catch(() => null);
    // Only drop the session from the profile if it is still the one we wiped.
    if (current?.session?.id === profile.session.id) {
      const signedOut: Profile = { ...current };
      delete signedOut.session;
      await this.options.profiles.write(signedOut);
    }
    await this.confirmPendingWipes();
    return wiped;
  }

  /** A signed-in session replaced by a new sign-in: end it at the proxy (best effort) and wipe it. */
  async #retire(previous: Profile): Promise<void> {
    if (previous.session === undefined) return;
    const id = previous.session.id;
    try {
      const secrets = await loadSessionSecrets(this.options.store, id);
      const old = new ProxyClient({ ...this.options, proxyUrl: previous.proxyUrl, caFingerprint: previous.caFingerprint, caPem: previous.caPem });
      await old.#json('POST', ApiPath.LOGOUT, { secrets, body: {} });
    } catch {
      // The old session is unusable once wiped; the proxy ends it at its deadline if not now.
    }
    const pending = new ProfilePendingWipes(this.options.profiles);
    pending.rememberReceipt(id, previous.session.wipeReceipt);
    await new CredentialWiper({ target: this.options.store, pending }).wipe(id).catch(() => undefined);
  }

  #checkPin(pem: string): void {
    const actual = caFingerprintOf(pem);
    if (actual !== this.options.caFingerprint) {
      throw new LatchError(
        ErrorCode.CA_MISMATCH,
        `the proxy's CA fingerprint is ${actual}, but the pinned one is ${this.options.caFingerprint}: refusing to continue (wrong proxy, or someone in between)`,
      );
    }
  }

  #checkCertificate(response: LoginResponse, spkiDer: Buffer, caPem: string, sentAt: number): void {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(response.certificate);
    } catch (err) {
      throw new LatchError(ErrorCode.PROTOCOL, 'the proxy sent an unreadable client certificate', { cause: err });
    }
    const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
    if (!certSpki.equals(spkiDer)) {
      throw new LatchError(ErrorCode.PROTOCOL, 'the proxy issued a certificate for a different key than ours');
    }
    if (!cert.verify(new X509Certificate(caPem).publicKey)) {
      throw new LatchError(ErrorCode.CA_MISMATCH, 'the client certificate is not signed by the pinned CA');
    }
    const limit = sentAt + response.expiresInMs + this.options.clockSkewMs;
    if (cert.validToDate.getTime() > limit) {
      throw new LatchError(
        ErrorCode.PROTOCOL,
        `the proxy issued a certificate valid until ${cert.validToDate.toISOString()}, beyond the session's end`,
      );
    }
  }

  async #json(method: 'GET' | 'POST', path: string, opts: { body?: unknown; secrets?: SessionSecrets }): Promise<unknown> {
    const { body } = await this.#send(method, path, { ...opts, pinned: true });
    if (body.length === 0) return null;
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      throw new LatchError(ErrorCode.PROTOCOL, `the proxy sent a response to ${path} that is not JSON`);
    }
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    opts: { pinned: boolean; body?: unknown; secrets?: SessionSecrets },
  ): Promise<{ status: number; body: Buffer }> {
    const url = new URL(path, this.proxyUrl);
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const request: RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 443 : Number(url.port),
      path: url.pathname,
      headers,
      agent: false,
      timeout: this.options.timeoutMs,
    };
    if (opts.pinned) {
      request.ca = await this.caPem();
      request.rejectUnauthorized = true;
    } else {
      // Only for GET /v1/ca: whatever comes back is checked against the pin before any use.
      request.rejectUnauthorized = false;
    }
    if (opts.secrets !== undefined) {
      request.key = opts.secrets.key;
      request.cert = opts.secrets.cert;
      headers['authorization'] = `Bearer ${opts.secrets.token}`;
    }
    const { status, body } = await this.#exchange(request, payload);
    if (status >= 200 && status < 300) return { status, body };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new LatchError(ErrorCode.PROTOCOL, `the proxy answered ${method} ${path} with HTTP ${status} and no error body`);
    }
    throw errorFromBody(parsed);
  }

  #exchange(request: RequestOptions, payload: Buffer | undefined): Promise<{ status: number; body: Buffer }> {
    const { proxyUrl, maxResponseBytes, timeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      let settled = false;
      let req: ClientRequest | undefined;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req?.destroy();
        reject(networkError(err, proxyUrl));
      };
      // `timeout` on the request only covers idle sockets; this bounds the whole exchange.
      const deadline = setTimeout(() => {
        fail(new LatchError(ErrorCode.PROXY_UNREACHABLE, `the proxy at ${proxyUrl} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      try {
        // A key that does not match its certificate makes TLS set-up throw right here.
        req = httpsRequest(request, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxResponseBytes) {
              fail(new LatchError(ErrorCode.PROTOCOL, `the proxy's response exceeds ${maxResponseBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(deadline);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
          });
        });
      } catch (err) {
        fail(err);
        return;
      }
      req.on('timeout', () => {
        fail(new LatchError(ErrorCode.PROXY_UNREACHABLE, `the proxy at ${proxyUrl} did not answer within ${timeoutMs} ms`));
      });
      req.on('error', fail);
      req.end(payload);
    });
  }
}

function isResourceInfo(value: unknown): value is ResourceInfo {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r['id'] === 'string' && typeof r['group'] === 'string';
}

function parseLoginResponse(raw: unknown): LoginResponse {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const ok =
    typeof r['sessionId'] === 'string' &&
    /^[A-Za-z0-9_-]{1,128}$/.test(r['sessionId']) &&
    typeof r['user'] === 'string' &&
    typeof r['certificate'] === 'string' &&
    typeof r['token'] === 'string' &&
    r['token'] !== '' &&
    typeof r['expiresInMs'] === 'number' &&
    Number.isFinite(r['expiresInMs']) &&
    r['expiresInMs'] > 0 &&
    Array.isArray(r['resources']) &&
    r['resources'].every(isResourceInfo) &&
    (r['wipeReceipt'] === undefined || typeof r['wipeReceipt'] === 'string');
  if (!ok) throw new LatchError(ErrorCode.PROTOCOL, 'the proxy sent a malformed login response');
  return r as unknown as LoginResponse;
}

function parseStateResponse(raw: unknown): SessionStateResponse {
  const message = parseServerMessage({ ...(typeof raw === 'object' && raw !== null ? raw : {}), type: 'session.state' });
  if (message?.type !== 'session.state') throw new LatchError(ErrorCode.PROTOCOL, 'the proxy sent a malformed session state');
  return {
    sessionId: message.sessionId,
    idleRemainingMs: message.idleRemainingMs,
    absoluteRemainingMs: message.absoluteRemainingMs,
    renewalsLeft: message.renewalsLeft,
    policy: message.policy,
  };
}

/** RSA 2048 made here with Node's native generator; node-forge only builds and signs the CSR. */
function generateKeyAndCsr(commonName: string): Generated {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  csr.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { keyPem, spkiDer, csrPem: forge.pki.certificationRequestToPem(csr) };
}
