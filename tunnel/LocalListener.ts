/**
 * A loopback TCP listener for one resource: every accepted connection becomes one stream,
 * relayed both ways with backpressure (MuxStream.relay). Half-closes pass through (FIN ↔ FIN); an abrupt end on
 * either side resets the other (stream RST ↔ TCP RST), so a client program sees a failed
 * target as a reset connection, never as a clean empty reply.
 */
import net from 'node:net';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { ResetCode } from './constants.ts';
import type { MuxStream } from './MuxStream.ts';

export interface LocalListenerOptions {
  resourceId: string;
  /** 0 picks a free port. */
  port: number;
  /** Loopback only: 127.0.0.0/8, ::1 or localhost. */
  host?: string;
  openStream: (resourceId: string) => MuxStream;
  /** Called for each connection that failed (stream rejected or reset, socket error). */
  onConnectionError?: (err: Error) => void;
}

export interface LocalListener {
  server: net.Server;
  address: { host: string; port: number };
  /** Stops listening and resets every open connection. */
  close(): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped?.[1] !== undefined && mapped[1].startsWith('127.');
}

export async function listenLocal(options: LocalListenerOptions): Promise<LocalListener> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new LatchError(ErrorCode.CONFIG, `refusing to listen on ${host}: local tunnels bind to loopback only`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new LatchError(ErrorCode.CONFIG, `invalid port ${options.port}`);
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    carry(socket, options);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new LatchError(ErrorCode.CONFIG, `cannot listen on ${host}:${options.port}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port: options.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // A server error after listening (rare: EMFILE on accept) must not crash the process.
  server.on('error', (err) => options.onConnectionError?.(err));

  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new LatchError(ErrorCode.INTERNAL, 'listener has no TCP address');
  return {
    server,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.resetAndDestroy();
        server.close(() => resolve());
      }),
  };
}

function carry(socket: net.Socket, options: LocalListenerOptions): void {
  socket.setNoDelay(true);
  let stream: MuxStream;
  try {
    stream = options.openStream(options.resourceId);
  } catch (err) {
    options.onConnectionError?.(err instanceof Error ? err : new Error(String(err)));
    socket.resetAndDestroy();
    return;
  }
  stream.relay(socket);
  stream.on('error', (err) => {
    options.onConnectionError?.(err);
    if (!socket.destroyed) socket.resetAndDestroy();
  });
  stream.on('close', () => {
    // Reset or session closed without an 'error' (e.g. local reset): drop the connection too.
    if (stream.resetCode !== undefined && !socket.destroyed) socket.resetAndDestroy();
  });
  socket.on('error', () => {
    if (!stream.destroyed) stream.reset(ResetCode.CANCEL);
  });
  socket.on('close', (hadError) => {
    // A socket that went away before finishing its side aborts the stream; a clean half-close
    // has already become stream.end() through the relay and must not be cut short.
    if (!stream.destroyed && (hadError || !stream.writableEnded)) stream.reset(ResetCode.CANCEL);
  });
}
