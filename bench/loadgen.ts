// The three measurements, each against one TCP endpoint (direct target, ssh -L forward, or Latch
// listener). The load generator is written to cost as little as possible: one reused buffer for
// the bulk run, big writes, backpressure through 'drain', callbacks instead of a promise per
// round trip. Everything is bounded by a timeout and fails with an Error, never hangs.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export interface Endpoint {
  host: string;
  port: number;
}

export interface BulkResult {
  bytes: number;
  seconds: number;
  /** 10^6 bytes per second. */
  mbPerSec: number;
}

export interface LatencyResult {
  roundTrips: number;
  p50Us: number;
  p99Us: number;
}

export interface ConcurrencyResult {
  connections: number;
  bytesVerified: number;
  ms: number;
}

export function connect(endpoint: Endpoint, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${endpoint.host}:${endpoint.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/**
 * Sends `bytes` bytes into the sink (after its u64 length header) and waits for the sink's
 * count. Time runs from the first byte written to the sink's answer that it has counted them all.
 */
export async function measureBulk(endpoint: Endpoint, bytes: number, options: { chunkSize?: number; timeoutMs: number }): Promise<BulkResult> {
  const chunkSize = options.chunkSize ?? 1024 * 1024;
  const chunk = randomBytes(chunkSize);
  const socket = await connect(endpoint, options.timeoutMs);
  return new Promise<BulkResult>((resolve, reject) => {
    let finished = false;
    let reply = Buffer.alloc(0);
    const finish = (err: Error | null, result?: BulkResult): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else if (result !== undefined) resolve(result);
    };
    const timer = setTimeout(() => finish(new Error(`bulk transfer did not finish within ${options.timeoutMs} ms`)), options.timeoutMs);
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('connection closed before the sink confirmed the byte count')));
    socket.on('data', (data: Buffer) => {
      reply = Buffer.concat([reply, data]);
      if (reply.length < 8) return;
      const seconds = (performance.now() - start) / 1000;
      const counted = Number(reply.readBigUInt64BE(0));
      if (counted !== bytes) {
        finish(new Error(`sink counted ${counted} bytes, ${bytes} were sent`));
        return;
      }
      finish(null, { bytes, seconds, mbPerSec: bytes / seconds / 1e6 });
    });

    const header = Buffer.allocUnsafe(8);
    header.writeBigUInt64BE(BigInt(bytes), 0);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes && !finished) {
        const n = Math.min(chunkSize, bytes - sent);
        sent += n;
        // The same buffer goes out again and again: no per-chunk allocation or copy.
        if (!socket.write(n === chunkSize ? chunk : chunk.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    const start = performance.now();
    socket.write(header);
    pump();
  });
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/**
 * Ping-pong of `size`-byte messages over one connection to the echo server: `warmup` untimed
 * round trips, then `roundTrips` timed ones. Every echoed message is compared with what was sent.
 */
export async function measureLatency(endpoint: Endpoint, options: { roundTrips: number; warmup: number; size?: number; timeoutMs: number }): Promise<LatencyResult> {
  const size = options.size ?? 64;
  const { roundTrips, warmup } = options;
  const total = warmup + roundTrips;
  const socket = await connect(endpoint, options.timeoutMs);
  const payload = randomBytes(size);
  const samples = new Float64Array(roundTrips);
  return new Promise<LatencyResult>((resolve, reject) => {
    let finished = false;
    let pending: Buffer[] = [];
    let got = 0;
    let done = 0;
    let t0 = 0;
    const finish = (err: Error | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) {
        reject(err);
        return;
      }
      samples.sort();
      resolve({ roundTrips, p50Us: percentile(samples, 0.5), p99Us: percentile(samples, 0.99) });
    };
    const timer = setTimeout(() => finish(new Error(`latency run did not finish within ${options.timeoutMs} ms (${done}/${total} round trips)`)), options.timeoutMs);
    const send = (): void => {
      // The message carries its sequence number, so a stale or reordered echo fails the check.
      payload.writeUInt32BE(done, 0);
      t0 = performance.now();
      socket.write(payload);
    };
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`connection closed after ${done}/${total} round trips`)));
    socket.on('data', (data: Buffer) => {
      const now = performance.now();
      got += data.length;
      pending.push(data);
      if (got < size) return;
      const echoed = pending.length === 1 ? data : Buffer.concat(pending);
      if (got > size || !echoed.equals(payload)) {
        finish(new Error(`echo mismatch at round trip ${done}`));
        return;
      }
      pending = [];
      got = 0;
      if (done >= warmup) samples[done - warmup] = (now - t0) * 1000;
      done += 1;
      if (done === total) finish(null);
      else send();
    });
    send();
  });
}

/**
 * Opens `connections` connections to the echo server; each sends `bytesPer` bytes of its own
 * random data and must receive exactly those bytes back. All of them stay open until the last
 * one is verified. Time runs from the first connect to the last connection verified.
 *
 * At most `maxOpening` connections are ever waiting for their first echoed byte. A connection
 * that has seen an echo was accepted at every hop, so this keeps every listener's accept queue
 * below that bound: `ssh -L` listens with a backlog of 128, and a Linux listener whose accept
 * queue overflows while clients already send data answers them with RST (measured here: 67 of
 * 500 connections reset against a slow acceptor with backlog 128). Without the bound the ssh
 * path fails at random instead of being measured.
 */
export async function measureConcurrency(endpoint: Endpoint, options: { connections: number; bytesPer: number; maxOpening?: number; timeoutMs: number }): Promise<ConcurrencyResult> {
  const { connections, bytesPer } = options;
  const maxOpening = options.maxOpening ?? 100;
  const data = randomBytes(connections * bytesPer);
  const sockets: net.Socket[] = [];
  return new Promise<ConcurrencyResult>((resolve, reject) => {
    let finished = false;
    let verified = 0;
    let opening = 0;
    let started = 0;
    const finish = (err: Error | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const ms = performance.now() - start;
      for (const s of sockets) {
        if (err === null) s.end();
        else s.destroy();
      }
      if (err !== null) reject(err);
      else resolve({ connections, bytesVerified: verified * bytesPer, ms });
    };
    const timer = setTimeout(() => finish(new Error(`concurrency run did not finish within ${options.timeoutMs} ms (${verified}/${connections} verified)`)), options.timeoutMs);
    const openNext = (): void => {
      while (!finished && started < connections && opening < maxOpening) open(started++);
    };
    const open = (i: number): void => {
      const sent = data.subarray(i * bytesPer, (i + 1) * bytesPer);
      const received = Buffer.allocUnsafe(bytesPer);
      let got = 0;
      let complete = false;
      opening += 1;
      const socket = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
      sockets.push(socket);
      socket.once('connect', () => socket.write(sent));
      socket.on('data', (chunk: Buffer) => {
        if (got === 0) {
          opening -= 1;
          openNext();
        }
        if (got + chunk.length > bytesPer) {
          finish(new Error(`connection ${i} received more bytes than it sent`));
          return;
        }
        chunk.copy(received, got);
        got += chunk.length;
        if (got < bytesPer) return;
        if (!received.equals(sent)) {
          finish(new Error(`connection ${i} received different bytes than it sent`));
          return;
        }
        complete = true;
        verified += 1;
        if (verified === connections) finish(null);
      });
      socket.on('error', (err) => {
        if (!complete) finish(new Error(`connection ${i}: ${err.message}`));
      });
      socket.on('close', () => {
        if (!complete) finish(new Error(`connection ${i} closed after ${got}/${bytesPer} bytes`));
      });
    };
    const start = performance.now();
    openNext();
  });
}
