import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ApiPath, SUBPROTOCOL } from '../common/api.ts';
import type { LogoutResponse, ResourceInfo, ResourcesResponse } from '../common/api.ts';
import { CloseCode, closeCodeForReason } from '../common/closeCodes.ts';
import type { EndReason } from '../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { parseClientMessage } from '../common/session.ts';
import type { SessionStateMessage } from '../common/session.ts';
import { Multiplexer, validateOptions } from '../tunnel/Multiplexer.ts';
import type { MultiplexerOptions } from '../tunnel/Multiplexer.ts';
import type { MuxStream } from '../tunnel/MuxStream.ts';
import { WebSocketTransport, wsMaxPayload } from '../tunnel/WebSocketTransport.ts';
import { Authenticator } from './Authenticator.ts';
import type { Authenticated } from './Authenticator.ts';
import { CertificateAuthority } from './CertificateAuthority.ts';
import { BodyTooLarge, readJsonBody, refuseUpgrade, sendError, sendJson, toLatchError } from './httpIo.ts';
import type { Logger } from './logger.ts';
import { LoginService } from './LoginService.ts';
import type { ProxyConfig, ResourceConfig } from './ProxyConfig.ts';
import { serveStream } from './ResourceDialer.ts';
import { Store } from './Store.ts';

/**
 * The proxy's network face: one HTTPS port for the sign-in API and the WSS tunnel. TLS asks
 * every client for a certificate but lets the handshake finish without one (login needs
 * none); the Authenticator decides per request. One live tunnel per session.
 */

export interface ProxyServerOptions {
  config: ProxyConfig;
  log: Logger;
  /** Serve GET /v1/debug/stats to loopback callers (tests of flow control and memory). */
  debugStats?: boolean;
  now?: () => number;
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
  deadlineTimer: NodeJS.Timeout | undefined;
}

const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
const SHUTDOWN_GRACE_MS = 1_500;
/** setTimeout's ceiling (~24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

export class ProxyServer {
  readonly fingerprint: string;
  readonly caPem: string;
  private readonly config: ProxyConfig;
  private readonly log: Logger;
  private readonly debugStats: boolean;
  private readonly now: () => number;
  private readonly store: Store;
  private readonly auth: Authenticator;
  private readonly login: LoginService;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly resources: ReadonlyMap<string, ResourceConfig>;
  private readonly muxOptions: MultiplexerOptions;
  private readonly tunnels = new Map<string, Tunnel>();
  private closing: Promise<void> | undefined;

  constructor(options: ProxyServerOptions) {
    const { config } = options;
    this.config = config;
    this.log = options.log;
    this.debugStats = options.debugStats ?? false;
    this.now = options.now ?? Date.now;
    this.resources = new Map(config.resources.map((r) => [r.id, r]));

    const ca = new CertificateAuthority({ certPem: readPem(config.tls.ca, 'CA certificate'), keyPem: readPem(config.tls.caKey, 'CA key') });
    this.caPem = ca.certPem;
    this.fingerprint = ca.fingerprint;
    this.store = new Store(config.store);
    this.auth = new Authenticator({ store: this.store, now: this.now });
    this.login = new LoginService({
      store: this.store,
      ca,
      maxDurationMs: config.session.maxDurationMs,
      resources: () => this.resourceList(),
      now: this.now,
    });

    this.muxOptions = validateOptions({ role: 'server', ...config.limits });

    this.server = createServer(
      {
        key: readPem(config.tls.key, 'server key'),
        cert: readPem(config.tls.cert, 'server certificate'),
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

  /** Listens on the configured address; resolves with the bound address (port 0 → ephemeral). */
  listen(): Promise<{ host: string; port: number }> {
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

  /** Ends a session durably, revokes its certificate and closes its tunnel with the reason's close code. */
  endSession(sessionId: string, reason: EndReason, message: string): boolean {
    const ended = this.store.endSession(sessionId, reason, this.now());
    const tunnel = this.tunnels.get(sessionId);
    if (tunnel) {
      try {
        tunnel.mux.sendControl({ type: 'session.ended', reason, message });
      } catch {
        // The tunnel may already be closing; the close code below still carries the reason.
      }
      this.closeTunnel(tunnel, closeCodeForReason(reason), message);
    }
    if (ended) this.log.info('session.ended', { session: sessionId, reason });
    return ended;
  }

  /** Stops accepting, closes every tunnel with SERVER_SHUTDOWN, and closes the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
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
    await serverClosed;
    this.store.close();
  }

  private resourceList(): ResourceInfo[] {
    return this.config.resources.map((r) => ({ id: r.id, group: r.group }));
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
      case `GET ${ApiPath.RESOURCES}`: {
        const auth = this.authenticateRequest(req, res);
        if (!auth) return;
        const body: ResourcesResponse = { resources: this.resourceList() };
        sendJson(res, 200, body);
        return;
      }
      case `POST ${ApiPath.LOGOUT}`: {
        const auth = this.authenticateRequest(req, res);
        if (!auth) return;
        this.endSession(auth.session.id, 'logout', 'signed out');
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

  private authenticateRequest(req: IncomingMessage, res: ServerResponse): Authenticated | undefined {
    try {
      return this.auth.authenticate(req);
    } catch (err) {
      const e = toLatchError(err);
      this.log.warn('auth.failed', { path: pathOf(req), remote: req.socket.remoteAddress, code: e.code });
      sendError(res, e);
      return undefined;
    }
  }

  private async handleLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = req.socket.remoteAddress;
    let user: string | undefined;
    try {
      const body = await readJsonBody(req);
      if (typeof body === 'object' && body !== null && typeof (body as { user?: unknown }).user === 'string') user = (body as { user: string }).user.slice(0, 64);
      const { response, serial } = await this.login.login(body, remote);
      this.log.info('session.started', { session: response.sessionId, user: response.user, remote, serial, expiresInMs: response.expiresInMs });
      sendJson(res, 200, response);
    } catch (err) {
      const e = toLatchError(err);
      if (e.code === ErrorCode.INTERNAL) this.log.error('login.internal_error', { error: String(err instanceof Error ? err.stack : err) });
      else this.log.warn('auth.failed', { path: ApiPath.LOGIN, remote, user, code: e.code });
      if (err instanceof BodyTooLarge) {
        res.setHeader('connection', 'close');
        sendError(res, e, err.status);
        return;
      }
      sendError(res, e);
    }
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
      auth = this.auth.authenticate(req);
    } catch (err) {
      const e = toLatchError(err);
      this.log.warn('auth.failed', { path: ApiPath.TUNNEL, remote, code: e.code });
      refuseUpgrade(socket, e);
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
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attachTunnel(ws, auth, remote));
  }

  private attachTunnel(ws: WebSocket, auth: Authenticated, remote: string | undefined): void {
    const { session } = auth;
    const mux = new Multiplexer(new WebSocketTransport(ws), this.muxOptions);
    const tunnel: Tunnel = { sessionId: session.id, user: session.user, ws, mux, targets: new Set(), deadlineTimer: undefined };
    const fields = { session: session.id, user: session.user, remote };

    const previous = this.tunnels.get(session.id);
    this.tunnels.set(session.id, tunnel);
    if (previous) {
      this.log.info('tunnel.replaced', fields);
      this.closeTunnel(previous, CloseCode.SESSION_REPLACED, 'replaced by a newer tunnel for this session');
    }
    this.log.info('tunnel.opened', fields);

    mux.on('stream', (stream: MuxStream) => {
      serveStream(stream, this.resources, {
        sessionId: session.id,
        user: session.user,
        log: this.log,
        track: (socket) => {
          tunnel.targets.add(socket);
          return () => tunnel.targets.delete(socket);
        },
      });
    });
    mux.on('control', (raw: unknown) => {
      const message = parseClientMessage(raw);
      if (!message) {
        this.log.warn('control.invalid', fields);
        return;
      }
      if (message.type === 'logout') {
        this.endSession(session.id, 'logout', 'signed out');
        return;
      }
      // activity / renew / credentials.wiped drive the session-policy timers.
      this.log.debug('control.received', { ...fields, type: message.type });
    });
    mux.on('error', (err: unknown) => {
      const code = err instanceof LatchError ? err.code : undefined;
      this.log.warn('tunnel.error', { ...fields, code, error: err instanceof Error ? err.message : String(err) });
    });
    mux.on('close', (code: number, reason: string) => {
      clearTimeout(tunnel.deadlineTimer);
      for (const target of tunnel.targets) target.destroy();
      if (this.tunnels.get(session.id) === tunnel) this.tunnels.delete(session.id);
      this.log.info('tunnel.closed', { ...fields, code, reason });
    });

    const remainingMs = Math.max(0, session.absoluteDeadline - this.now());
    const state: SessionStateMessage = {
      type: 'session.state',
      sessionId: session.id,
      // No idle policy is configured yet: the absolute deadline is the only one.
      idleRemainingMs: remainingMs,
      absoluteRemainingMs: remainingMs,
      renewalsLeft: 0,
      policy: {
        idleTimeoutMs: this.config.session.maxDurationMs,
        maxDurationMs: this.config.session.maxDurationMs,
        warnBeforeMs: 0,
        maxRenewals: 0,
        activity: 'input',
        onLock: 'idle',
        groups: [],
      },
    };
    mux.sendControl({ ...state });
    this.armDeadline(tunnel, session.absoluteDeadline);
  }

  /** Ends the session when its absolute deadline passes, even with a tunnel open. */
  private armDeadline(tunnel: Tunnel, deadline: number): void {
    const wait = deadline - this.now();
    if (wait <= 0) {
      this.endSession(tunnel.sessionId, 'absolute', 'the session reached its maximum duration');
      return;
    }
    tunnel.deadlineTimer = setTimeout(() => this.armDeadline(tunnel, deadline), Math.min(wait, MAX_TIMER_MS));
    tunnel.deadlineTimer.unref();
  }

  private closeTunnel(tunnel: Tunnel, code: number, reason: string): void {
    clearTimeout(tunnel.deadlineTimer);
    if (!tunnel.mux.closed) tunnel.mux.close(code, reason);
    for (const target of tunnel.targets) target.destroy();
    if (this.tunnels.get(tunnel.sessionId) === tunnel) this.tunnels.delete(tunnel.sessionId);
  }
}
