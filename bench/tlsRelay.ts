// One half of the bench's "node-tls" reference path: the plainest relay Node can build with TLS,
// and so the floor under any Node relay that speaks TLS (Latch's client and proxy included).
//   front: 127.0.0.1:ephemeral (TCP) → tls.connect → back          (one TLS connection per TCP one)
//   back:  127.0.0.1:ephemeral (TLS server) → the target (TCP)
// Same key type, cipher and TLS version as Latch (RSA 2048, TLS 1.3 AES-128-GCM), bytes moved
// with pipe() (backpressure), Nagle off. It prints {"ports":[…]} once listening, one per route.
//   node bench/tlsRelay.ts front '[UPSTREAM_PORT,…]' CA_FILE
//   node bench/tlsRelay.ts back  '[TARGET_PORT,…]'   CERT_FILE KEY_FILE
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { clientCiphers } from '../tunnel/WebSocketTransport.ts';

function relay(a: net.Socket, b: net.Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

async function main(): Promise<void> {
  const [mode, routesJson, file1, file2] = process.argv.slice(2);
  const routes = JSON.parse(routesJson ?? '[]') as unknown;
  if (!Array.isArray(routes) || !routes.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) throw new Error('routes must be a JSON array of ports');
  const ports: number[] = [];
  if (mode === 'front' && file1 !== undefined) {
    const ca = readFileSync(file1, 'utf8');
    for (const upstream of routes as number[]) {
      const server = net.createServer((socket) => relay(socket, tls.connect({ host: '127.0.0.1', port: upstream, ca, ciphers: clientCiphers(), servername: 'localhost' })));
      ports.push(await listen(server));
    }
  } else if (mode === 'back' && file1 !== undefined && file2 !== undefined) {
    const cert = readFileSync(file1, 'utf8');
    const key = readFileSync(file2, 'utf8');
    for (const target of routes as number[]) {
      const server = tls.createServer({ cert, key, minVersion: 'TLSv1.2' }, (socket) => relay(socket, net.connect({ host: '127.0.0.1', port: target })));
      ports.push(await listen(server));
    }
  } else {
    throw new Error('usage: tlsRelay.ts front ROUTES CA_FILE | back ROUTES CERT_FILE KEY_FILE');
  }
  console.log(JSON.stringify({ ports }));
}

// A clean exit on SIGTERM (how the bench stops it), so --cpu-prof can write its profile.
process.once('SIGTERM', () => process.exit(0));

main().catch((err: unknown) => {
  console.error(`tlsRelay: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
