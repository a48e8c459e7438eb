// The local listener with real TCP on 127.0.0.1: a real client socket → listener → multiplexer
// (over a real TCP connection) → a real echo server.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { ErrorCode, isLatchError } from '../common/errors.ts';
import { ResetCode } from './constants.ts';
import { isLoopbackHost, listenLocal } from './LocalListener.ts';
import type { LocalListener } from './LocalListener.ts';
import { Multiplexer } from './Multiplexer.ts';
import type { MuxStream } from './MuxStream.ts';
import { StreamTransport } from './StreamTransport.ts';
import { connectTo, readAll } from '../test/support/sockets.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function listenOn(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return addr.port;
}

/** Echo server that half-closes after echoing everything. */
async function echoServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  cleanups.push(() => sockets.forEach((s) => s.destroy()));
  return listenOn(server);
}

/** A client and server multiplexer over real TCP; the server dials `targetPort` for every stream. */
async function tunnel(onStream: (s: MuxStream) => void): Promise<Multiplexer> {
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer((s) => resolve(s));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      const c = net.connect(addr.port, '127.0.0.1');
      const client = new Multiplexer(new StreamTransport(c), { role: 'client', keepaliveIntervalMs: 0 });
      clientMux = client;
    });
  });
  let clientMux: Multiplexer | undefined;
  const serverSocket = await accepted;
  const server = new Multiplexer(new StreamTransport(serverSocket), { role: 'server', keepaliveIntervalMs: 0 });
  server.on('stream', onStream);
  assert.ok(clientMux);
  const client = clientMux;
  cleanups.push(() => {
    client.close();
    server.close();
  });
  return client;
}

function dialTo(port: number): (s: MuxStream) => void {
  return (s) => {
    const target = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    target.setNoDelay(true);
    target.on('error', () => s.reset(ResetCode.TARGET_RESET));
    s.on('error', () => target.destroy());
    target.once('connect', () => {
      s.accept();
      s.pipe(target);
      target.pipe(s);
    });
  };
}

async function local(client: Multiplexer, resourceId = 'echo'): Promise<LocalListener> {
  const l = await listenLocal({ resourceId, port: 0, openStream: (id) => client.openStream(id) });
  cleanups.push(() => l.close());
  return l;
}

void test('refuses to bind anything but loopback', async () => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com']) {
    await assert.rejects(
      listenLocal({ resourceId: 'x', port: 0, host, openStream: () => { throw new Error('unreachable'); } }),
      (e: unknown) => isLatchError(e, ErrorCode.CONFIG),
      host,
    );
  }
  for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
});

void test('a port already in use is a named error', async () => {
  const blocker = net.createServer();
  const port = await listenOn(blocker);
  await assert.rejects(
    listenLocal({ resourceId: 'x', port, openStream: () => { throw new Error('unreachable'); } }),
    (e: unknown) => isLatchError(e, ErrorCode.CONFIG),
  );
});

void test('carries real TCP connections end to end, half-close included, every byte verified', async () => {
  const port = await echoServer();
  const client = await tunnel(dialTo(port));
  const l = await local(client);
  assert.equal(l.address.host, '127.0.0.1');
  assert.ok(l.address.port > 0);
  const results = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const s = await connectTo(l.address);
      const data = randomBytes(512 * 1024);
      const back = readAll(s, 10_000);
      s.end(data);
      const got = await back;
      s.destroy();
      return createHash('sha256').update(got).digest('hex') === createHash('sha256').update(data).digest('hex');
    }),
  );
  assert.deepEqual(results, Array.from({ length: 20 }, () => true));
});

void test('a rejected stream resets the local connection', async () => {
  const client = await tunnel((s) => s.reject(ResetCode.UNKNOWN_RESOURCE));
  const errors: Error[] = [];
  const l = await listenLocal({ resourceId: 'nope', port: 0, openStream: (id) => client.openStream(id), onConnectionError: (e) => errors.push(e) });
  cleanups.push(() => l.close());
  const s = await connectTo(l.address);
  const err = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
    s.on('error', resolve);
    s.on('end', () => reject(new Error('clean end instead of a reset')));
    setTimeout(() => reject(new Error('no reset')), 5000).unref();
  });
  assert.equal(err.code, 'ECONNRESET');
  assert.ok(isLatchError(errors[0], ErrorCode.UNKNOWN_RESOURCE));
});

void test('a local connection reset resets the stream at the far end', async () => {
  let farEnd: MuxStream | undefined;
  const reset = new Promise<number | undefined>((resolve) => {
    void tunnel((s) => {
      farEnd = s;
      s.accept();
      s.on('error', () => resolve(s.resetCode));
      s.resume();
    }).then(async (client) => {
      const l = await local(client);
      const sock = await connectTo(l.address);
      sock.write('hello');
      await new Promise((r) => setTimeout(r, 100));
      sock.resetAndDestroy();
    });
  });
  assert.equal(await reset, ResetCode.CANCEL);
  assert.ok(farEnd?.destroyed);
});

void test('close() stops listening and drops open connections', async () => {
  const port = await echoServer();
  const client = await tunnel(dialTo(port));
  const l = await listenLocal({ resourceId: 'echo', port: 0, openStream: (id) => client.openStream(id) });
  const s = await connectTo(l.address);
  s.on('error', () => {});
  const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
  await l.close();
  await closed;
  assert.equal(l.server.listening, false);
  const refused = net.connect(l.address.port, '127.0.0.1');
  const [err] = (await once(refused, 'error', { signal: AbortSignal.timeout(5000) })) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
});
