import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { ApiPath, SUBPROTOCOL } from '../../common/api.ts';
import { CloseCode, reasonForCloseCode } from '../../common/closeCodes.ts';
import type { EndReason } from '../../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { ErrorCode as ErrorCodeType } from '../../common/errors.ts';
import { parseServerMessage } from '../../common/session.ts';
import type { ClientMessage, ServerMessage } from '../../common/session.ts';
import { DEFAULT_MAX_FRAME_SIZE } from '../../tunnel/constants.ts';
import { listenLocal } from '../../tunnel/LocalListener.ts';
import { Multiplexer } from '../../tunnel/Multiplexer.ts';
import type { MultiplexerOptions } from '../../tunnel/Multiplexer.ts';
import type { MuxStream } from '../../tunnel/MuxStream.ts';
import { WebSocketTransport, wsClientOptions } from '../../tunnel/WebSocketTransport.ts';
import { describeEnd } from './session/describeEnd.ts';
import { errorFromBody, networkError } from './networkError.ts';
import type { SessionSecrets } from './SessionSecrets.ts';

export interface TunnelClientOptions {
  /** `https://host:port` of the proxy; the tunnel is `wss://host:port/v1/tunnel`. */
  proxyUrl: string;
  /** The pinned CA: the proxy's certificate must chain to exactly this. */
  caPem: string;
  secrets: SessionSecrets;
  /** Upgrade handshake, TCP connect to 101 (or refusal). */
  connectTimeoutMs: number;
  multiplexer: Partial<Omit<MultiplexerOptions, 'role'>>;
}

export function defaultOptions(): Omit<TunnelClientOptions, 'proxyUrl' | 'caPem' | 'secrets'> {
  return { connectTimeoutMs: 10_000, multiplexer: {} };
}

export type TunnelClientInit = Pick<TunnelClientOptions, 'proxyUrl' | 'caPem' | 'secrets'> & Partial<TunnelClientOptions>;

/** How the tunnel ended, once, for good. */
export interface TunnelEnd {
  /** The WebSocket close code (4000-4999 carry Latch's meaning, see common/closeCodes.ts). */
  closeCode: number;
  /** Set when the proxy ended the session (close code 40xx or a session.ended message). */
  reason: EndReason | undefined;
  /** Set when the tunnel failed rather than the session ending (refused, protocol, lost). */
  error: LatchError | undefined;
  /** In plain words, for the person at the keyboard. */
  message: string;
  /** True when this side asked for the close (Ctrl-C, logout). */
  local: boolean;
}

export interface ListenerInfo {
  resourceId: string;
  host: string;
  port: number;
}

interface TunnelClientEvents {
  /** A validated control message from the proxy (session.state, session.warning, ...). */
  message: [message: ServerMessage];
  /** One local connection failed (target unreachable, stream reset, ...); the listener goes on. */
  connectionError: [resourceId: string, error: LatchError];
  end: [end: TunnelEnd];
}

type LocalListener = Awaited<ReturnType<typeof listenLocal>>;

/** Close codes after the upgrade that refuse the credentials or break the protocol. */
const CLOSE_ERRORS: Readonly<Record<number, ErrorCodeType>> = {
  [CloseCode.AUTH_FAILED]: ErrorCode.AUTH_REJECTED,
  [CloseCode.CERT_EXPIRED]: ErrorCode.CERT_EXPIRED,
  [CloseCode.CERT_REVOKED]: ErrorCode.CERT_REVOKED,
  [CloseCode.PROTOCOL_ERROR]: ErrorCode.PROTOCOL,
  [CloseCode.FRAME_TOO_LARGE]: ErrorCode.FRAME_TOO_LARGE,
  [CloseCode.FLOW_CONTROL]: ErrorCode.FLOW_CONTROL,
  [CloseCode.BUFFER_LIMIT]: ErrorCode.BUFFER_LIMIT,
  [CloseCode.KEEPALIVE_TIMEOUT]: ErrorCode.KEEPALIVE_TIMEOUT,
  [CloseCode.BAD_VERSION]: ErrorCode.BAD_VERSION,
  [CloseCode.SERVER_SHUTDOWN]: ErrorCode.PROXY_UNREACHABLE,
  [CloseCode.INTERNAL_ERROR]: ErrorCode.INTERNAL,
};

const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * The client end of one session's tunnel: a WSS connection with the session's client
 * certificate and bearer token, carrying a client-role Multiplexer, and the local listeners
 * whose connections become its streams. When the tunnel closes for good every listener is
 * closed before 'end' is emitted.
 */
export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  readonly options: TunnelClientOptions;
  readonly #mux: Multiplexer;
  readonly #listeners = new Set<LocalListener>();
  #sessionEnded: { reason: EndReason; message: string } | undefined;
  #localClose = false;
  #ended = false;

  private constructor(options: TunnelClientOptions, mux: Multiplexer) {
    super();
    this.options = options;
    this.#mux = mux;
    mux.on('control', (raw: unknown) => {
      const message = parseServerMessage(raw);
      if (message === undefined) return;
      if (message.type === 'session.ended') this.#sessionEnded = { reason: message.reason, message: message.message };
      this.emit('message', message);
    });
    mux.on('close', (code: number, reason: string) => {
      void this.#finish(code, reason);
    });
  }

  /**
   * Opens the tunnel. Rejects with the proxy's own error when it refuses the upgrade
   * (LATCH_ERR_CERT_EXPIRED, LATCH_ERR_SESSION_ENDED, ...), LATCH_ERR_CA_MISMATCH when the server
   * does not verify against the pinned CA, LATCH_ERR_PROXY_UNREACHABLE when it cannot be reached.
   */
  static async connect(init: TunnelClientInit): Promise<TunnelClient> {
    const options: TunnelClientOptions = { ...defaultOptions(), ...init };
    const ws = await openWebSocket(options);
    const mux = new Multiplexer(new WebSocketTransport(ws), { ...options.multiplexer, role: 'client' });
    return new TunnelClient(options, mux);
  }

  get closed(): boolean {
    return this.#ended;
  }

  /** Opens a 127.0.0.1 listener whose connections are carried to `resourceId`. */
  async listen(resourceId: string, port = 0): Promise<ListenerInfo> {
    if (this.#ended || this.#mux.closed) throw new LatchError(ErrorCode.CONNECTION_CLOSED, 'the tunnel is closed');
    const listener = await listenLocal({
      resourceId,
      port,
      host: '127.0.0.1',
      openStream: (id: string) => this.#mux.openStream(id),
      onConnectionError: (err: Error) => {
        if (this.#ended) return;
        const e = err instanceof LatchError ? err : new LatchError(ErrorCode.CONNECTION_CLOSED, err.message, { cause: err });
        this.emit('connectionError', resourceId, e);
      },
    });
    if (this.#ended) {
      await listener.close();
      throw new LatchError(ErrorCode.CONNECTION_CLOSED, 'the tunnel closed while the listener was starting');
    }
    this.#listeners.add(listener);
    return { resourceId, host: listener.address.host, port: listener.address.port };
  }

  /**
   * Opens one stream to `resourceId` (for listeners the caller owns, e.g. ones that outlive a
   * reconnect). Throws CONNECTION_CLOSED once the tunnel is closed.
   */
  openStream(resourceId: string): MuxStream {
    if (this.#ended || this.#mux.closed) throw new LatchError(ErrorCode.CONNECTION_CLOSED, 'the tunnel to the proxy is not up');
    return this.#mux.openStream(resourceId);
  }

  /** Sends a control message to the proxy (activity, renew, logout, credentials.wiped). */
  send(message: ClientMessage): void {
    if (!this.#mux.closed) this.#mux.sendControl({ ...message });
  }

  /** Round-trip time to the proxy in ms. */
  async ping(): Promise<number> {
    return this.#mux.ping();
  }

  /** Closes the listeners and the tunnel; resolves once 'end' has been emitted. Idempotent. */
  async close(code: number = CloseCode.NORMAL, reason = 'client closed'): Promise<void> {
    if (this.#ended) return;
    const ended = new Promise<void>((resolve) => this.once('end', () => resolve()));
    this.#localClose = true;
    this.#mux.close(code, reason);
    await ended;
  }

  async #finish(code: number, wireReason: string): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await Promise.allSettled([...this.#listeners].map(async (l) => l.close()));
    this.#listeners.clear();
    this.emit('end', this.#describe(code, wireReason));
  }

  #describe(closeCode: number, wireReason: string): TunnelEnd {
    const local = this.#localClose;
    const reason = this.#sessionEnded?.reason ?? reasonForCloseCode(closeCode);
    if (reason !== undefined) {
      // 4005 without session.ended: only this tunnel was replaced by a newer one of the session.
      const message =
        reason === 'replaced' && this.#sessionEnded === undefined
          ? 'Disconnected: a newer connection of this session took over'
          : describeEnd(reason);
      return { closeCode, reason, error: undefined, local, message };
    }
    if (local || closeCode === CloseCode.NORMAL) {
      return { closeCode, reason: undefined, error: undefined, local, message: 'disconnected' };
    }
    const code = CLOSE_ERRORS[closeCode] ?? ErrorCode.CONNECTION_CLOSED;
    const text =
      closeCode === CloseCode.SERVER_SHUTDOWN
        ? 'the proxy is shutting down'
        : code === ErrorCode.CONNECTION_CLOSED
          ? `the connection to the proxy was lost (close code ${closeCode})`
          : `the proxy closed the tunnel (close code ${closeCode})`;
    const message = wireReason === '' ? text : `${text}: ${wireReason}`;
    return { closeCode, reason: undefined, error: new LatchError(code, message), local, message };
  }
}

function tunnelUrl(proxyUrl: string): string {
  const url = new URL(ApiPath.TUNNEL, proxyUrl);
  url.protocol = 'wss:';
  return url.href;
}

function openWebSocket(options: TunnelClientOptions): Promise<WebSocket> {
  const { proxyUrl, caPem, secrets, connectTimeoutMs } = options;
  // Senders never exceed the receiver's frame limit, so ws may refuse anything bigger unread.
  const maxFrameSize = options.multiplexer.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  return new Promise((resolve, reject) => {
    let settled = false;
    const ws = new WebSocket(tunnelUrl(proxyUrl), SUBPROTOCOL, {
      ca: caPem,
      cert: secrets.cert,
      key: secrets.key,
      rejectUnauthorized: true,
      headers: { authorization: `Bearer ${secrets.token}` },
      ...wsClientOptions(maxFrameSize),
      handshakeTimeout: connectTimeoutMs,
      followRedirects: false,
    });
    const done = (err: LatchError | undefined): void => {
      if (settled) return;
      settled = true;
      ws.off('open', onOpen);
      if (err === undefined) {
        resolve(ws);
        return;
      }
      ws.terminate();
      reject(err);
    };
    const onOpen = (): void => {
      if (ws.protocol !== SUBPROTOCOL) {
        done(new LatchError(ErrorCode.SUBPROTOCOL, `the proxy did not agree to ${SUBPROTOCOL} (got "${ws.protocol}")`));
        return;
      }
      done(undefined);
    };
    ws.on('open', onOpen);
    ws.on('error', (err: Error) => {
      // After open the transport reports errors; before it, this is why we could not connect.
      if (!settled) done(networkError(err, proxyUrl));
    });
    ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      void readRefusal(res).then((err) => {
        req.destroy();
        done(err);
      });
    });
  });
}

/** The proxy refuses an upgrade with an HTTP status and a `{code, message}` JSON body. */
function readRefusal(res: IncomingMessage): Promise<LatchError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const status = res.statusCode ?? 0;
    const fallback = (): LatchError =>
      new LatchError(
        status === 401 || status === 403 ? ErrorCode.AUTH_REJECTED : ErrorCode.PROTOCOL,
        `the proxy refused the tunnel with HTTP ${status}`,
      );
    const finish = (): void => {
      clearTimeout(timer);
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const err = errorFromBody(parsed);
        resolve(err.code === ErrorCode.PROTOCOL && !(typeof parsed === 'object' && parsed !== null && 'code' in parsed) ? fallback() : err);
      } catch {
        resolve(fallback());
      }
    };
    const timer = setTimeout(finish, 5_000);
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BODY) chunks.push(chunk);
    });
    res.on('end', finish);
    res.on('error', finish);
    res.on('close', finish);
  });
}
