import net from 'node:net';

/** A TCP server on 127.0.0.1 that a test owns; close() destroys every socket it accepted. */
export interface TcpTarget {
  port: number;
  /** Connections accepted so far / currently open. */
  accepted(): number;
  open(): number;
  close(): Promise<void>;
}

async function serve(onSocket: (socket: net.Socket) => void, options: net.ServerOpts = {}): Promise<TcpTarget> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer(options, (socket) => {
    accepted++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return {
    port: address.port,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte back (with backpressure, through pipe()). */
export function startEchoTarget(): Promise<TcpTarget> {
  return serve((socket) => socket.pipe(socket));
}

/** Accepts and never reads: whatever is sent piles up until flow control stops the sender. */
export function startSinkTarget(): Promise<TcpTarget> {
  return serve((socket) => socket.pause());
}

/**
 * Writes as fast as each connection takes it, up to `limitBytes`, honouring its own
 * backpressure; `sent()` is the total the kernel accepted so far.
 */
export async function startFloodTarget(limitBytes: number): Promise<TcpTarget & { sent(): number }> {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const target = await serve((socket) => {
    let mine = 0;
    const pump = (): void => {
      while (!socket.destroyed && mine < limitBytes) {
        mine += chunk.length;
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  return { ...target, sent: () => sent };
}

/** Connects to 127.0.0.1:port (bounded), with Nagle off. */
export function connectTcp(port: number, timeoutMs = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Sends `payload` on a new connection to port and checks, byte by byte as it arrives, that the
 * same bytes come back; resolves with the number of bytes verified. Rejects on the first
 * difference, an early close or timeout.
 */
export async function echoVerified(port: number, payload: Buffer, timeoutMs = 60_000): Promise<number> {
  const socket = await connectTcp(port, timeoutMs);
  return new Promise<number>((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => fail(new Error(`echo on ${port}: ${got}/${payload.length} bytes back within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on('data', (chunk: Buffer) => {
      if (got + chunk.length > payload.length) return fail(new Error(`echo on ${port}: more bytes back than sent`));
      if (!chunk.equals(payload.subarray(got, got + chunk.length))) return fail(new Error(`echo on ${port}: bytes differ at offset ${got}`));
      got += chunk.length;
      if (got === payload.length) {
        clearTimeout(timer);
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', fail);
    socket.on('close', () => {
      if (got < payload.length) fail(new Error(`echo on ${port}: closed after ${got}/${payload.length} bytes`));
    });
    socket.write(payload);
  });
}
