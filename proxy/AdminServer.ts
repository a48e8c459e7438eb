import { chmodSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { EndReason } from '../common/closeCodes.ts';
import { ErrorCode, LatchError, deserializeError, isLatchError } from '../common/errors.ts';
import type { SerializedError } from '../common/errors.ts';
import type { Logger } from './logger.ts';
import type { SessionListing } from './SessionManager.ts';

/**
 * The admin channel between `latch-proxy sessions|end|revoke` and the running `serve`: a unix
 * socket in the data directory, mode 0600 (only the proxy's own account may use it), one JSON
 * request line and one JSON response line per connection. Going through the running process
 * (rather than only the store) is what lets an end reach the live tunnel at once.
 */

export type AdminRequest =
  | { op: 'sessions' }
  | { op: 'end'; session: string; reason: EndReason }
  | { op: 'revoke'; user: string };

export type AdminResponse =
  | { ok: true; sessions: SessionListing[] }
  | { ok: true; ended: string[] }
  | { ok: false; error: SerializedError };

export type AdminHandler = (request: AdminRequest) => AdminResponse;

const MAX_LINE = 64 * 1024;
const MAX_SOCKET_PATH = 103;
const IO_TIMEOUT_MS = 5_000;
const END_REASONS: ReadonlySet<string> = new Set(['idle', 'absolute', 'revoked', 'logout', 'replaced', 'error']);

export function parseAdminRequest(value: unknown): AdminRequest | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.op === 'sessions') return { op: 'sessions' };
  if (v.op === 'end' && typeof v.session === 'string' && v.session.length > 0 && v.session.length <= 200 && typeof v.reason === 'string' && END_REASONS.has(v.reason)) {
    return { op: 'end', session: v.session, reason: v.reason as EndReason };
  }
  if (v.op === 'revoke' && typeof v.user === 'string' && v.user.length > 0 && v.user.length <= 64) return { op: 'revoke', user: v.user };
  return undefined;
}

/** Reads one newline-terminated line (bounded); resolves undefined on EOF, timeout or overflow. */
function readLine(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buffered = '';
    const done = (line: string | undefined): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl !== -1) done(buffered.slice(0, nl));
      else if (buffered.length > MAX_LINE) done(undefined);
    };
    const onEnd = (): void => done(buffered.length > 0 ? buffered : undefined);
    const timer = setTimeout(() => done(undefined), IO_TIMEOUT_MS);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

export class AdminServer {
  private readonly server: Server;
  private readonly path: string;

  private constructor(server: Server, path: string) {
    this.server = server;
    this.path = path;
  }

  /**
   * Listens on `path`. A socket file left by a dead process is replaced; one a live `serve`
   * answers on is an error (two proxies on one data directory would fork its state).
   */
  static async listen(path: string, handler: AdminHandler, log: Logger): Promise<AdminServer> {
    // sockaddr_un holds 108 bytes on Linux (104 on macOS), terminator included.
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new LatchError(ErrorCode.CONFIG, `the admin socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes: move the data directory (the store) to a shorter path`);
    }
    if (await isAnswering(path)) {
      throw new LatchError(ErrorCode.CONFIG, `another latch-proxy serve is running on this data directory (${path} answers)`);
    }
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const server = createServer({ allowHalfOpen: false }, (socket) => {
      socket.on('error', () => socket.destroy());
      void readLine(socket).then((line) => {
        let response: AdminResponse;
        try {
          const request = line === undefined ? undefined : parseAdminRequest(JSON.parse(line));
          response = request ? handler(request) : { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'malformed admin request' } };
        } catch (err) {
          const e = isLatchError(err) ? err : new LatchError(ErrorCode.INTERNAL, 'internal error');
          if (!isLatchError(err)) log.error('admin.internal_error', { error: String(err) });
          response = { ok: false, error: e.toJSON() };
        }
        socket.end(`${JSON.stringify(response)}\n`);
        setTimeout(() => socket.destroy(), IO_TIMEOUT_MS).unref();
      });
    });
    // The socket is created by bind(2) inside listen(): a tight umask keeps it private from birth.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    server.on('error', (err) => log.error('admin.error', { error: String(err) }));
    return new AdminServer(server, path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        try {
          unlinkSync(this.path);
        } catch {
          // Already gone.
        }
        resolve();
      });
    });
  }
}

function isAnswering(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 1_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * Sends one request to the running serve. Resolves undefined when no serve is listening
 * (no socket, or a stale one): the caller then applies the change to the store. A serve
 * that answers with an error rejects with that LatchError.
 */
export function adminRequest(path: string, request: AdminRequest): Promise<AdminResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let connected = false;
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) resolve(undefined);
      else reject(new LatchError(ErrorCode.INTERNAL, `admin socket ${path}: ${err.code ?? err.message}`, { cause: err }));
    });
    socket.once('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify(request)}\n`);
      void readLine(socket).then((line) => {
        socket.destroy();
        if (line === undefined) {
          reject(new LatchError(ErrorCode.INTERNAL, `no answer from the running serve on ${path}`));
          return;
        }
        let response: AdminResponse;
        try {
          response = JSON.parse(line) as AdminResponse;
        } catch {
          reject(new LatchError(ErrorCode.PROTOCOL, 'malformed answer from the running serve'));
          return;
        }
        if (!response.ok) reject(deserializeError(response.error));
        else resolve(response);
      });
    });
  });
}
