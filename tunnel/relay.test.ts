// MuxStream.relay with real TCP at both ends: an application socket accepted by a local listener
// (client side) and a target socket dialed by the server, over a multiplexer on real TCP.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { ResetCode } from './constants.ts';
import { listenLocal } from './LocalListener.ts';
import type { LocalListener } from './LocalListener.ts';
import { Multiplexer } from './Multiplexer.ts';
import type { MultiplexerOptions } from './Multiplexer.ts';
import type { MuxStream } from './MuxStream.ts';
import { StreamTransport } from './StreamTransport.ts';
import { connectTo, readAll } from '../test/support/sockets.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function serve(handler: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return addr.port;
}

/** Client and server multiplexers over real TCP; the server relays each stream to `targetPort`. */
async function tunnel(
  targetPort: number,
  serverOpts: Partial<MultiplexerOptions> = {},
  acceptDelayMs = 0,
): Promise<{ client: Multiplexer; server: Multiplexer; listener: LocalListener; serverStreams: MuxStream[] }> {
  let serverMux: Multiplexer | undefined;
  const serverStreams: MuxStream[] = [];
  const port = await serve((s) => {
    serverMux = new Multiplexer(new StreamTransport(s), { keepaliveIntervalMs: 0, ...serverOpts, role: 'server' });
    serverMux.on('stream', (stream: MuxStream) => {
      serverStreams.push(stream);
      const target = net.connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true, noDelay: true });
      target.on('error', () => stream.reset(ResetCode.TARGET_RESET));
      stream.on('error', () => target.destroy());
      stream.on('close', () => {
        if (stream.resetCode !== undefined) target.destroy();
      });
      target.once('connect', () => {
        setTimeout(() => {
          stream.accept();
          stream.relay(target);
        }, acceptDelayMs);
      });
    });
  });
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect', { signal: AbortSignal.timeout(5000) });
  const client = new Multiplexer(new StreamTransport(socket), { keepaliveIntervalMs: 0, role: 'client' });
  for (let i = 0; i < 100 && serverMux === undefined; i++) await sleep(10);
  assert.ok(serverMux, 'server multiplexer');
  const server = serverMux;
  const listener = await listenLocal({ resourceId: 'target', port: 0, openStream: (id) => client.openStream(id) });
  cleanups.push(async () => {
    await listener.close();
    client.close();
    server.close();
  });
  return { client, server, listener, serverStreams };
}

void test('relayed at both ends: 8 MiB through an echo with half-close, every byte verified, nothing left behind', async () => {
  // The echo answers everything, then ends only after the client's FIN reached it.
  const echoPort = await serve((s) => s.pipe(s));
  const { client, server, listener } = await tunnel(echoPort);
  const data = randomBytes(8 * 1024 * 1024);
  const results = await Promise.all(
    [0, 1, 2].map(async () => {
      const s = await connectTo(listener.address, { noDelay: true });
      const back = readAll(s, 20_000);
      s.end(data);
      return sha(await back);
    }),
  );
  assert.deepEqual(results, [sha(data), sha(data), sha(data)]);
  for (let i = 0; i < 100 && (server.stats().streams > 0 || client.stats().streams > 0); i++) await sleep(20);
  assert.equal(server.stats().streams, 0);
  assert.equal(client.stats().streams, 0);
  assert.equal(server.stats().committedWindow, 0);
});

void test('a target that sends and closes first: the client reads everything, then the end', async () => {
  const payload = randomBytes(3 * 1024 * 1024);
  const port = await serve((s) => s.end(payload));
  const { listener } = await tunnel(port);
  const s = await connectTo(listener.address, { noDelay: true });
  const got = readAll(s, 20_000);
  assert.equal(sha(await got), sha(payload));
  s.end();
});

void test('bytes sent before the server accepts and relays arrive first, in order', async () => {
  const echoPort = await serve((s) => s.pipe(s));
  const { listener } = await tunnel(echoPort, {}, 200);
  const s = await connectTo(listener.address, { noDelay: true });
  const back = readAll(s, 20_000);
  // Written at once, within the initial window, while the stream is still waiting for accept.
  const early = randomBytes(40 * 1024);
  s.write(early);
  await sleep(400);
  const late = randomBytes(300 * 1024);
  s.end(late);
  assert.equal(sha(await back), sha(Buffer.concat([early, late])));
});

void test('a target that stops reading stalls the sender; the relay holds at most one window', async () => {
  const window = 256 * 1024;
  let stalled: net.Socket | undefined;
  const port = await serve((s) => {
    stalled = s;
    s.pause();
  });
  const { client, server, listener } = await tunnel(port, { initialWindow: window });
  const s = await connectTo(listener.address, { noDelay: true });
  const chunk = randomBytes(64 * 1024);
  let written = 0;
  const limit = 256 * 1024 * 1024;
  // Write with backpressure until the application's own socket stops taking bytes.
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (written < limit) {
        written += chunk.length;
        if (!s.write(chunk)) {
          const stall = setTimeout(resolve, 1_500);
          s.once('drain', () => {
            clearTimeout(stall);
            pump();
          });
          return;
        }
      }
      resolve();
    };
    pump();
  });
  assert.ok(written < limit, 'the sender never stalled');
  // Both multiplexers count the relay's buffers; neither holds more than a window plus a chunk.
  const st = server.stats();
  assert.ok(st.receivedUnread <= window, `server holds ${st.receivedUnread} bytes the target has not taken`);
  assert.ok(st.bufferedBytes <= window + 128 * 1024, `server buffers ${st.bufferedBytes}`);
  const ct = client.stats();
  assert.ok(ct.queuedToSend <= 512 * 1024, `client queues ${ct.queuedToSend}`);
  assert.ok(ct.queuedToSend > 0 || st.receivedUnread > 0, 'the relay counts what it holds');
  // The target reads again: everything written arrives, in order.
  assert.ok(stalled);
  const target = stalled;
  let received = 0;
  const arrived = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`target received ${received} of ${written} bytes`)), 30_000);
    target.on('data', (c: Buffer) => {
      for (let off = 0; off < c.length; off++) {
        if (c[off] !== chunk[(received + off) % chunk.length]) {
          clearTimeout(timer);
          reject(new Error(`byte ${received + off} differs`));
          return;
        }
      }
      received += c.length;
      if (received === written) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  target.resume();
  await arrived;
  s.destroy();
});

void test('an application reset resets the stream at the far end and drops the target connection', async () => {
  let onTargetGone = (): void => {};
  const targetGone = new Promise<string>((resolve) => (onTargetGone = () => resolve('gone')));
  const port = await serve((s) => {
    // The dialer destroys its socket: the target sees its FIN (or a reset).
    s.on('end', () => onTargetGone());
    s.on('close', () => onTargetGone());
    s.resume();
  });
  const { listener, serverStreams } = await tunnel(port);
  const s = await connectTo(listener.address, { noDelay: true });
  s.write('hello');
  for (let i = 0; i < 100 && serverStreams.length === 0; i++) await sleep(10);
  await sleep(100);
  s.resetAndDestroy();
  assert.equal(await Promise.race([targetGone, sleep(5_000).then(() => 'still open')]), 'gone');
  assert.equal(serverStreams[0]?.resetCode, ResetCode.CANCEL);
});

void test('the target ends first, then the application uploads and ends: every byte arrives before the FIN', async () => {
  let onDone: (n: string) => void = () => {};
  const done = new Promise<string>((resolve) => (onDone = resolve));
  const port = await serve((s) => {
    // Half-close at once (like a server that has nothing to say), then read to the end.
    s.end();
    const hash = createHash('sha256');
    s.on('data', (c: Buffer) => hash.update(c));
    s.on('end', () => onDone(hash.digest('hex')));
    s.on('close', () => onDone('closed without FIN'));
  });
  const { listener } = await tunnel(port);
  const s = await connectTo(listener.address, { noDelay: true });
  await readAll(s, 20_000); // the target's FIN has reached the application
  const data = randomBytes(4 * 1024 * 1024);
  s.end(data);
  assert.equal(await Promise.race([done, sleep(20_000).then(() => 'timeout')]), sha(data));
});
