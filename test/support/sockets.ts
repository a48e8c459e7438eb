import { once } from 'node:events';
import net from 'node:net';
import type { Readable } from 'node:stream';

/** A half-open-capable client connection to a local listener, connected within 5 s. */
export async function connectTo(address: { host: string; port: number }, options: { noDelay?: boolean } = {}): Promise<net.Socket> {
  const s = net.connect({ host: address.host, port: address.port, allowHalfOpen: true, noDelay: options.noDelay ?? false });
  await once(s, 'connect', { signal: AbortSignal.timeout(5000) });
  return s;
}

/** Everything a socket (or any byte stream) receives until its peer ends it; rejects on error or after `timeoutMs`. */
export function readAll(s: Readable, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`stream did not end within ${timeoutMs} ms`)), timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
