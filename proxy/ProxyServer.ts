import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex, Writable } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ApiPath, SUBPROTOCOL } from '../common/api.ts';
import type { LoginRequest, LogoutResponse, ResourceInfo, ResourcesResponse, SessionStateResponse, WipedRequest } from '../common/api.ts';
import { CloseCode, closeCodeForReason } from '../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { parseClientMessage } from '../common/session.ts';
import type { ClientMessage, ServerMessage, SessionStateMessage } from '../common/session.ts';
import { ResetCode } from '../tunnel/constants.ts';
import { Multiplexer, validateOptions } from '../tunnel/Multiplexer.ts';
import type { MultiplexerOptions } from '../tunnel/Multiplexer.ts';
import type { MuxStream } from '../tunnel/MuxStream.ts';
import { WebSocketTransport, wsMaxPayload } from '../tunnel/WebSocketTransport.ts';
import { AdminServer } from './AdminServer.ts';
import type { AdminRequest, AdminResponse } from './AdminServer.ts';
import { AuditLog, loadOrCreateAuditSalt } from './audit/index.ts';
import type { Endpoint } from './audit/index.ts';
import { Authenticator, AuthRefusal } from './Authenticator.ts';
import type { Authenticated } from './Authenticator.ts';
import { CertificateAuthority } from './CertificateAuthority.ts';
import { BodyTooLarge, readJsonBody, refuseUpgrade, sendError, sendJson, toLatchError } from './httpIo.ts';
import type { Logger } from './logger.ts';
import { LoginService } from './LoginService.ts';
import type { LoginResult } from './LoginService.ts';
import { dataDir } from './ProxyConfig.ts';
import type { ProxyConfig, ResourceConfig } from './ProxyConfig.ts';
import { serveStream } from './ResourceDialer.ts';
import { SessionManager } from './SessionManager.ts';
import { Store } from './Store.ts';

/**
 * The proxy's network face: one HTTPS port for the sign-in API and the WSS tunnel. TLS asks
 * every client for a certificate but lets the handshake finish without one (login needs
 * none); the Authenticator decides per request. One live tunnel per session. Session lifetimes
 * are the SessionManager's: this class forwards its state, warnings and ends to the tunnel,
 * and the client's activity, renewals and logout to it.
 */

export interface ProxyServerOptions {
  config: ProxyConfig;
  log: Logger;
  /** Serve GET /v1/debug/stats to loopback callers (tests of flow control and memory). */
  debugStats?: boolean;
  now?: () => number;
  /** Where audit lines are copied when `audit.stdout` is set (normally process.stdout). */
  auditStdout?: Writable;
}

export interface DebugStats {
  sessions: number;
  streams: number;
  bufferedBytes: number;
  rss: number;
}

interface Tunnel {
  sessionId: string;
  user: string;
  ws: WebSocket;
  mux: Multiplexer;
  targets: Set<Socket>;
  src: Endpoint | undefined;
}

const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
const SHUTDOWN_GRACE_MS = 1_500;
const AUDIT_CLOSE_MS = 3_000;
const MAX_WIPED_ITEMS = 1_000_000;

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new LatchError(ErrorCode.CONFIG, `cannot read the ${what} at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function endpointOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): Endpoint | undefined {
  if (socket.remoteAddress === undefined) return undefined;
  return socket.remotePort === undefined ? { ip: socket.remoteAddress } : { ip: socket.remoteAddress, port: socket.remotePort };
}

function stateResponse(state: SessionStateMessage): SessionStateResponse {
  return {
    sessionId: state.sessionId,
    idleRemainingMs: state.idleRemainingMs,
    absoluteRemainingMs: state.absoluteRemainingMs,
    renewalsLeft: state.renewalsLeft,
    policy: state.policy,
  };
}

/** The unix socket `latch-proxy sessions|end|revoke` use to reach a running serve. */
export function adminSocketPath(config: Pick<ProxyConfig, 'store'>): string {
  return join(dataDir(config), 'admin.sock');
}

function parseWipedRequest(body: unknown): WipedRequest {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { sessionId, receipt, items } = b;
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 200 || typeof receipt !== 'string' || receipt.length === 0 || receipt.length > 256) {
    throw new LatchError(ErrorCode.BAD_REQUEST, '"sessionId" and "receipt" must be non-empty strings');
  }
  if (typeof items !== 'number' || !Number.isSafeInteger(items) || items < 0 || items > MAX_WIPED_ITEMS) {
    throw new LatchError(ErrorCode.BAD_REQUEST, `"items" must be a whole number from 0 to ${MAX_WIPED_ITEMS}`);
  }
  return { sessionId, receipt, items };
}

/** The sign-in method named in a login body, for auth.failed (nothing is trusted from it). */
function methodOf(body: unknown): LoginRequest['method'] | undefined {
  const method = typeof body === 'object' && body !== null ? (body as { method?: unknown }).method : undefined;
  return method === 'password' || method === 'enrollment' ? method : undefined;
}

export class ProxyServer {
  readonly fingerprint: string;
  readonly caPem: string;
  readonly sessions: SessionManager;
  private readonly config: ProxyConfig;
  private readonly log: Logger;
  private readonly debugStats: boolean;
  private readonly now: () => number;
  private readonly store: Store;
  private readonly audit: AuditLog;
  private readonly auth: Authenticator;
  private readonly login: LoginService;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly resources: ReadonlyMap<string, ResourceConfig>;
  private readonly muxOptions: MultiplexerOptions;
  /** Whether any policy counts tunnel bytes as activity (else streams skip the per-chunk hook). */
  private readonly trafficCounts: boolean;
  private readonly tunnels = new Map<string, Tunnel>();
  private admin: AdminServer | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ProxyServerOptions) {
    const { config } = options;
    this.config = config;
    this.log = options.log;
    this.debugStats = options.debugStats ?? false;
    this.now = options.now ?? Date.now;
    this.resources = new Map(config.resources.map((r) => [r.id, r]));
    const { defaultPolicy, groups } = config.policies;
    this.trafficCounts = [defaultPolicy, ...groups.values()].some((p) => p.activity === 'input+traffic');

    const ca = new CertificateAuthority({ certPem: readPem(config.tls.ca, 'CA certificate'), keyPem: readPem(config.tls.caKey, 'CA key') });
    this.caPem = ca.certPem;
    this.fingerprint = ca.fingerprint;
    this.muxOptions = validateOptions({ role: 'server', ...config.limits });
    const serverKey = readPem(config.tls.key, 'server key');
    const serverCert = readPem(config.tls.cert, 'server certificate');

    this.store = new Store(config.store);
    try {
      this.audit = AuditLog.open({
        salt: loadOrCreateAuditSalt(join(dataDir(config), 'audit.salt')),
        file: config.audit.file,
        stdout: config.audit.stdout ? (options.auditStdout ?? process.stdout) : null,
        webhook: config.audit.webhook,
        logger: this.log,
      });
    } catch (err) {
      this.store.close();
      throw err;
    }
    this.sessions = new SessionManager({ store: this.store, policies: config.policies, audit: this.audit, log: this.log });
    this.sessions.on('state', (id, message) => this.send(id, message));
    this.sessions.on('warning', (id, message) => this.send(id, message));
    this.sessions.on('ended', (id, message) => {
      const tunnel = this.tunnels.get(id);
      if (!tunnel) return;
      this.send(id, message);
      this.closeTunnel(tunnel, closeCodeForReason(message.reason), message.message);
    });
    this.auth = new Authenticator({ store: this.store, now: this.now, expire: (id) => this.sessions.end(id, 'absolute', 'proxy') });
    this.login = new LoginService({
      store: this.store,
      ca,
      maxDurationMs: config.policies.defaultPolicy.maxDurationMs,
      resources: () => this.resourceList(),
      now: this.now,
    });

    this.server = createServer(
      {
        key: serverKey,
        cert: serverCert,
        ca: [ca.certPem],
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      },
      (req, res) => {
        this.handleRequest(req, res).catch((err: unknown) => {
          this.log.error('http.internal_error', { path: pathOf(req), error: String(err) });
          sendError(res, toLatchError(err));
        });
      },
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      this.log.debug('tls.client_error', { remote: socket.remoteAddress, error: err.code ?? err.message });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      this.log.debug('http.client_error', { error: err.code ?? err.message });
      socket.destroy();
    });

    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // ws refuses (close 1009) anything larger than one frame, so a peer cannot make us buffer more.
      maxPayload: wsMaxPayload(this.muxOptions.maxFrameSize),
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  /**
   * Brings the stored sessions back (ending those whose deadline passed while the proxy was
   * down), listens on the configured address, then opens the admin socket. Resolves with the
   * bound address (port 0 → ephemeral); on failure everything is released before rejecting.
   */
  async listen(): Promise<{ host: string; port: number }> {
    try {
      this.log.info('audit.opened', { file: this.audit.path, seq: this.audit.seq, stdout: this.config.audit.stdout, webhook: this.config.audit.webhook !== null });
      const restored = this.sessions.restore();
      this.log.info('sessions.restored', restored);
      const address = await this.listenHttps();
      this.admin = await AdminServer.listen(adminSocketPath(this.config), (request) => this.handleAdmin(request), this.log);
      return address;
    } catch (err) {
      // Release everything (port, admin socket, timers, audit lock) so the process can exit.
      await this.close().catch(() => undefined);
      throw err;
    }
  }

  private listenHttps(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new LatchError(ErrorCode.CONFIG, `cannot listen on ${this.config.listen.host}:${this.config.listen.port}: ${err.code ?? err.message}`, { cause: err }));
      };
      this.server.once('error', onError);
      this.server.listen(this.config.listen.port, this.config.listen.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.log.error('server.error', { error: String(err) }));
        const address = this.server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  stats(): DebugStats {
    let streams = 0;
    let bufferedBytes = 0;
    for (const tunnel of this.tunnels.values()) {
      const s = tunnel.mux.stats();
      streams += s.streams;
      bufferedBytes += s.bufferedBytes;
    }
    return { sessions: this.tunnels.size, streams, bufferedBytes, rss: process.memoryUsage().rss };
  }

  /**
   * Stops accepting, closes every tunnel with SERVER_SHUTDOWN (sessions stay live: a restart
   * brings them back with their deadlines), flushes the timers, closes the audit trail and the
   * store. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const adminClosed = this.admin?.close() ?? Promise.resolve();
    const tunnels = [...this.tunnels.values()];
    const tunnelsClosed = Promise.all(tunnels.map((t) => new Promise<void>((resolve) => (t.mux.closed ? resolve() : t.mux.once('close', () => resolve())))));
    for (const tunnel of tunnels) this.closeTunnel(tunnel, CloseCode.SERVER_SHUTDOWN, 'the proxy is shutting down');
    this.server.closeIdleConnections();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([tunnelsClosed, new Promise<void>((resolve) => (grace = setTimeout(resolve, SHUTDOWN_GRACE_MS)))]);
    clearTimeout(grace);
    for (const tunnel of tunnels) {
      tunnel.ws.terminate();
      for (const target of tunnel.targets) target.destroy();
    }
    this.server.closeAllConnections();
    this.wss.close();
    await Promise.all([serverClosed, adminClosed]);
    this.sessions.close();
    await this.audit.close(AUDIT_CLOSE_MS);
    this.store.close();
  }

  private resourceList(): ResourceInfo[] {
    return this.config.resources.map((r) => ({ id: r.id, group: r.group }));
  }

  /** Sends a control message to the session's live tunnel, if it has one. */
  private send(sessionId: string, message: ServerMessage): void {
    const tunnel = this.tunnels.get(sessionId);
    if (!tunnel || tunnel.mux.closed) return;
    try {
      tunnel.mux.sendControl({ ...message });
    } catch (err) {
      this.log.warn('control.send_failed', { session: sessionId, type: message.type, error: String(err) });
    }
  }

  private handleAdmin(request: AdminRequest): AdminResponse {
    switch (request.op) {
      case 'sessions':
        return { ok: true, sessions: this.sessions.list() };
      case 'end': {
        const id = this.sessions.resolve(request.session) ?? request.session;
        if (!this.sessions.end(id, request.reason, 'admin')) throw new LatchError(ErrorCode.NOT_FOUND, `no live session "${request.session}"`);
        return { ok: true, ended: [id] };
      }
      case 'revoke':
        return { ok: true, ended: this.sessions.endUser(request.user, 'revoked', 'admin') };
    }
  }

  private async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const method = req.method ?? 'GET';
    const route = `${method} ${path}`;
    switch (route) {
      case `GET ${ApiPath.CA}`:
        res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': Buffer.byteLength(this.caPem), 'cache-control': 'no-store' });
        res.end(this.caPem);
        return;
      case `POST ${ApiPath.LOGIN}`:
        return this.handleLogin(req, res);
      case `POST ${ApiPath.REAUTH}`:
        return this.handleReauth(req, res);
      case `POST ${ApiPath.WIPED}`:
        return this.handleWiped(req, res);
      case `GET ${ApiPath.RESOURCES}`: {
        const auth = this.authenticateRequest(req, res);
        if (!auth) return;
        const body: ResourcesResponse = { resources: this.resourceList() };
        sendJson(res, 200, body);
        return;
      }
      case `GET ${ApiPath.SESSION}`: {
        const auth = this.authenticateRequest(req, res);
        if (!auth) return;
        sendJson(res, 200, stateResponse(this.sessions.state(auth.session.id)));
        return;
      }
      case `POST ${ApiPath.RENEW}`: {
        const auth = this.authenticateRequest(req, res);
        if (!auth) return;
        req.resume();
        try {
          sendJson(res, 200, stateResponse(this.sessions.renew(auth.session.id, endpointOf(req.socket))));
        } catch (err) {
          sendError(res, toLatchError(err));
        }
        return;
      }
      case `POST ${ApiPath.LOGOUT}`: {
        const auth = this.authenticateRequest(req, res);
        if (!auth) return;
        this.sessions.end(auth.session.id, 'logout', 'user');
        const body: LogoutResponse = { ended: true };
        sendJson(res, 200, body);
        return;
      }
      case 'GET /v1/debug/stats':
        if (this.debugStats && isLoopback(req.socket.remoteAddress)) {
          sendJson(res, 200, this.stats());
          return;
        }
        break;
      default:
        break;
    }
    const known = (Object.values(ApiPath) as string[]).includes(path);
    sendError(res, new LatchError(ErrorCode.NOT_FOUND, known ? `${method} is not allowed on ${path}` : `no such path: ${path}`), known ? 405 : 404);
  }

  /** Authenticates; on refusal logs and audits auth.failed. */
  private check(req: IncomingMessage): Authenticated {
    try {
      return this.auth.authenticate(req);
    } catch (err) {
      const e = toLatchError(err);
      const session = err instanceof AuthRefusal ? err.session : undefined;
      this.log.warn('auth.failed', { path: pathOf(req), remote: req.socket.remoteAddress, code: e.code, session: session?.id });
      const src = endpointOf(req.socket);
      this.sessions.record({
        type: 'auth.failed',
        code: e.code,
        method: e.code === ErrorCode.TOKEN_INVALID ? 'token' : 'certificate',
        ...(session ? { user: session.user, sessionId: session.id } : {}),
        ...(src ? { src } : {}),
      });
      throw e;
    }
  }

  private authenticateRequest(req: IncomingMessage, res: ServerResponse): Authenticated | undefined {
    try {
      return this.check(req);
    } catch (err) {
      req.resume();
      sendError(res, toLatchError(err));
      return undefined;
    }
  }

  /** Logs and audits a failed sign-in (password, enrollment code, throttled); then answers. */
  private refuseLogin(req: IncomingMessage, res: ServerResponse, err: unknown, body: unknown, path: string): void {
    const e = toLatchError(err);
    const remote = req.socket.remoteAddress;
    const rawUser = typeof body === 'object' && body !== null ? (body as { user?: unknown }).user : undefined;
    const user = typeof rawUser === 'string' ? rawUser.slice(0, 64) : undefined;
    if (e.code === ErrorCode.INTERNAL) this.log.error('login.internal_error', { path, error: String(err instanceof Error ? err.stack : err) });
    else this.log.warn('auth.failed', { path, remote, user, code: e.code });
    if (e.code === ErrorCode.AUTH_REJECTED || e.code === ErrorCode.ENROLLMENT_INVALID || e.code === ErrorCode.RATE_LIMITED) {
      const method = methodOf(body);
      const src = endpointOf(req.socket);
      this.sessions.record({ type: 'auth.failed', code: e.code, ...(user === undefined ? {} : { user }), ...(method ? { method } : {}), ...(src ? { src } : {}) });
    }
    if (err instanceof BodyTooLarge) {
      res.setHeader('connection', 'close');
      sendError(res, e, err.status);
      return;
    }
    sendError(res, e);
  }

  private async handleLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    let result: LoginResult;
    try {
      body = await readJsonBody(req);
      result = await this.login.login(body, req.socket.remoteAddress);
    } catch (err) {
      this.refuseLogin(req, res, err, body, ApiPath.LOGIN);
      return;
    }
    const { response, serial } = result;
    // Fail closed: a session the audit trail cannot record does not start.
    if (!this.sessions.started(result, endpointOf(req.socket))) {
      sendError(res, new LatchError(ErrorCode.INTERNAL, 'the audit trail cannot be written; sign-in refused'));
      return;
    }
    this.log.info('session.started', { session: response.sessionId, user: response.user, remote: req.socket.remoteAddress, serial, expiresInMs: response.expiresInMs });
    sendJson(res, 200, response);
  }

  private async handleReauth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = this.authenticateRequest(req, res);
    if (!auth) return;
    const { session } = auth;
    let body: unknown;
    let result: LoginResult;
    try {
      body = await readJsonBody(req);
      const policyMax = this.sessions.state(session.id).policy.maxDurationMs;
      result = await this.login.reauthenticate(body, session, policyMax, req.socket.remoteAddress);
    } catch (err) {
      this.refuseLogin(req, res, err, body, ApiPath.REAUTH);
      return;
    }
    // The live tunnel stays up; the new state (fresh absolute period) reaches it as session.state.
    this.sessions.reauthenticated(result, endpointOf(req.socket));
    this.log.info('session.reauthenticated', { session: session.id, user: session.user, oldSerial: auth.serial, serial: result.serial, expiresInMs: result.response.expiresInMs });
    sendJson(res, 200, result.response);
  }

  private async handleWiped(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let request: WipedRequest;
    try {
      request = parseWipedRequest(await readJsonBody(req));
    } catch (err) {
      sendError(res, toLatchError(err), err instanceof BodyTooLarge ? err.status : undefined);
      return;
    }
    const outcome = this.store.confirmWipe(request.sessionId, request.receipt, this.now());
    if (outcome.result === 'rejected' || !outcome.session) {
      this.log.warn('wiped.rejected', { remote: req.socket.remoteAddress });
      sendError(res, new LatchError(ErrorCode.AUTH_REJECTED, 'unknown session or wrong wipe receipt'));
      return;
    }
    // A repeated confirmation (the client retries until it gets an answer) is audited once.
    if (outcome.result === 'first') this.sessions.wiped(request.sessionId, outcome.session.user, request.items, endpointOf(req.socket));
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err: NodeJS.ErrnoException) => this.log.debug('upgrade.socket_error', { error: err.code ?? err.message }));
    const remote = req.socket.remoteAddress;
    if (this.closing) {
      refuseUpgrade(socket, new LatchError(ErrorCode.CONNECTION_CLOSED, 'the proxy is shutting down'), 503);
      return;
    }
    if (pathOf(req) !== ApiPath.TUNNEL) {
      refuseUpgrade(socket, new LatchError(ErrorCode.NOT_FOUND, `no such path: ${pathOf(req)}`));
      return;
    }
    let auth: Authenticated;
    try {
      auth = this.check(req);
    } catch (err) {
      refuseUpgrade(socket, toLatchError(err));
      return;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    if (!offered.includes(SUBPROTOCOL)) {
      this.log.warn('tunnel.refused', { session: auth.session.id, remote, code: ErrorCode.SUBPROTOCOL, offered: offered.join(',') });
      refuseUpgrade(socket, new LatchError(ErrorCode.SUBPROTOCOL, `this proxy speaks only the ${SUBPROTOCOL} subprotocol`));
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attachTunnel(ws, auth, endpointOf(req.socket)));
  }

  private attachTunnel(ws: WebSocket, auth: Authenticated, src: Endpoint | undefined): void {
    const { session } = auth;
    const mux = new Multiplexer(new WebSocketTransport(ws), this.muxOptions);
    const tunnel: Tunnel = { sessionId: session.id, user: session.user, ws, mux, targets: new Set(), src };
    const fields = { session: session.id, user: session.user, remote: src?.ip };

    if (!this.sessions.has(session.id)) {
      // It ended between the authentication and the upgrade completing.
      mux.close(CloseCode.SESSION_ERROR, 'the session is not live');
      return;
    }
    const previous = this.tunnels.get(session.id);
    this.tunnels.set(session.id, tunnel);
    if (previous) {
      this.log.info('tunnel.replaced', fields);
      this.closeTunnel(previous, CloseCode.SESSION_REPLACED, 'replaced by a newer tunnel for this session');
    }
    this.log.info('tunnel.opened', fields);

    mux.on('stream', (stream: MuxStream) => this.serve(tunnel, stream));
    mux.on('control', (raw: unknown) => {
      const message = parseClientMessage(raw);
      if (!message) {
        this.log.warn('control.invalid', fields);
        return;
      }
      this.onControl(tunnel, message);
    });
    mux.on('error', (err: unknown) => {
      const code = err instanceof LatchError ? err.code : undefined;
      this.log.warn('tunnel.error', { ...fields, code, error: err instanceof Error ? err.message : String(err) });
    });
    mux.on('close', (code: number, reason: string) => {
      for (const target of tunnel.targets) target.destroy();
      if (this.tunnels.get(session.id) === tunnel) this.tunnels.delete(session.id);
      this.log.info('tunnel.closed', { ...fields, code, reason });
    });

    this.send(session.id, this.sessions.state(session.id));
  }

  private serve(tunnel: Tunnel, stream: MuxStream): void {
    const { sessionId, user } = tunnel;
    const resource = this.resources.get(stream.resourceId);
    // Bind the session to the resource's policy BEFORE dialing: a stricter policy may end it now.
    if (resource && !this.sessions.openedGroup(sessionId, resource.group)) {
      if (!stream.destroyed && !tunnel.mux.closed) stream.reject(ResetCode.REFUSED);
      return;
    }
    const base = { user, sessionId, resourceId: stream.resourceId, streamId: stream.id, ...(resource ? { group: resource.group } : {}), ...(tunnel.src ? { src: tunnel.src } : {}) };
    serveStream(stream, this.resources, {
      sessionId,
      user,
      log: this.log,
      track: (socket) => {
        tunnel.targets.add(socket);
        return () => tunnel.targets.delete(socket);
      },
      onOpened: () => this.sessions.record({ type: 'connection.opened', ...base }),
      onClosed: ({ bytesIn, bytesOut, durationMs }) => this.sessions.record({ type: 'connection.closed', ...base, bytesIn, bytesOut, durationMs }),
      ...(this.trafficCounts ? { onTraffic: () => this.sessions.traffic(sessionId) } : {}),
    });
  }

  private onControl(tunnel: Tunnel, message: ClientMessage): void {
    const { sessionId, user } = tunnel;
    try {
      switch (message.type) {
        case 'activity':
          this.sessions.activity(sessionId, { idleMs: message.idleMs, locked: message.locked });
          return;
        case 'renew':
          this.sessions.renew(sessionId, tunnel.src);
          return;
        case 'logout':
          this.sessions.end(sessionId, 'logout', 'user');
          return;
        case 'credentials.wiped':
          if (message.sessionId !== sessionId) {
            this.log.warn('control.invalid', { session: sessionId, type: message.type });
            return;
          }
          if (this.store.markWiped(sessionId, this.now())) this.sessions.wiped(sessionId, user, message.items, tunnel.src);
          return;
      }
    } catch (err) {
      const e = toLatchError(err);
      if (e.code === ErrorCode.INTERNAL) this.log.error('control.failed', { session: sessionId, type: message.type, error: String(err) });
      this.send(sessionId, { type: 'request.error', request: message.type, error: e.toJSON() });
    }
  }

  private closeTunnel(tunnel: Tunnel, code: number, reason: string): void {
    if (!tunnel.mux.closed) tunnel.mux.close(code, reason);
    for (const target of tunnel.targets) target.destroy();
    if (this.tunnels.get(tunnel.sessionId) === tunnel) this.tunnels.delete(tunnel.sessionId);
  }
}
