// One multiplexer suite, run over every transport: an in-memory pipe, TCP, TLS and WebSocket,
// all on 127.0.0.1. Hand-crafted frames are injected below the client's multiplexer to play a
// misbehaving peer.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Writable, duplexPair } from 'node:stream';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { selfSignedCert } from '../test/support/selfSignedCert.ts';
import { readAll } from '../test/support/sockets.ts';
import { ErrorCode, LatchError, isLatchError } from '../common/errors.ts';
import { encodeFrame } from './codec.ts';
import { CloseCode, Flag, FrameType, HEADER_SIZE, INITIAL_WINDOW, ResetCode, SUBPROTOCOL } from './constants.ts';
import type { FrameTransport } from './FrameTransport.ts';
import { Multiplexer, errorCodeForCloseCode } from './Multiplexer.ts';
import type { MultiplexerOptions } from './Multiplexer.ts';
import type { MuxStream } from './MuxStream.ts';
import { StreamTransport } from './StreamTransport.ts';
import { WebSocketTransport, wsMaxPayload } from './WebSocketTransport.ts';

type Kind = 'pipe' | 'tcp' | 'tls' | 'ws';
const KINDS: Kind[] = ['pipe', 'tcp', 'tls', 'ws'];

interface Transports {
  client: FrameTransport;
  server: FrameTransport;
  /** Frames (or garbage) into the server, below the client's mux: one WebSocket message each. */
  inject: (...frames: Buffer[]) => void;
  cleanup: () => Promise<void>;
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return addr.port;
}

async function socketPair(kind: 'tcp' | 'tls'): Promise<{ client: Duplex; server: Duplex; cleanup: () => Promise<void> }> {
  const material = kind === 'tls' ? selfSignedCert() : undefined;
  const server = material ? tls.createServer({ key: material.key, cert: material.cert }) : net.createServer();
  const accepted = once(server, material ? 'secureConnection' : 'connection', { signal: AbortSignal.timeout(5000) });
  const port = await listen(server);
  const client = material
    ? tls.connect({ host: '127.0.0.1', port, ca: material.cert })
    : net.connect({ host: '127.0.0.1', port });
  await once(client, material ? 'secureConnect' : 'connect', { signal: AbortSignal.timeout(5000) });
  const [serverSocket] = (await accepted) as [net.Socket];
  return {
    client,
    server: serverSocket,
    cleanup: async () => {
      client.destroy();
      serverSocket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function makeTransports(kind: Kind, maxFrameSize = 64 * 1024): Promise<Transports> {
  if (kind === 'ws') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: wsMaxPayload(maxFrameSize), perMessageDeflate: false, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
    await once(wss, 'listening');
    const addr = wss.address();
    assert.ok(addr !== null && typeof addr === 'object');
    const connected = once(wss, 'connection', { signal: AbortSignal.timeout(5000) });
    const clientWs = new WebSocket(`ws://127.0.0.1:${addr.port}`, SUBPROTOCOL, { perMessageDeflate: false, maxPayload: wsMaxPayload(maxFrameSize) });
    await once(clientWs, 'open', { signal: AbortSignal.timeout(5000) });
    const [serverWs] = (await connected) as [WebSocket];
    assert.equal(clientWs.protocol, SUBPROTOCOL);
    return {
      client: new WebSocketTransport(clientWs),
      server: new WebSocketTransport(serverWs),
      inject: (...frames) => frames.forEach((f) => clientWs.send(f, { binary: true })),
      cleanup: async () => {
        clientWs.terminate();
        serverWs.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      },
    };
  }
  const pair =
    kind === 'pipe'
      ? (() => {
          const [a, b] = duplexPair();
          return { client: a, server: b, cleanup: () => Promise.resolve(void (a.destroy(), b.destroy())) };
        })()
      : await socketPair(kind);
  return {
    client: new StreamTransport(pair.client, { maxFrameSize }),
    server: new StreamTransport(pair.server, { maxFrameSize }),
    inject: (...frames) => void pair.client.write(Buffer.concat(frames)),
    cleanup: pair.cleanup,
  };
}

interface Pair {
  client: Multiplexer;
  server: Multiplexer;
  inject: (...frames: Buffer[]) => void;
  cleanup: () => Promise<void>;
}

type Opts = Partial<Omit<MultiplexerOptions, 'role'>>;

async function makePair(kind: Kind, clientOpts: Opts = {}, serverOpts: Opts = {}): Promise<Pair> {
  const t = await makeTransports(kind, serverOpts.maxFrameSize);
  const client = new Multiplexer(t.client, { keepaliveIntervalMs: 0, ...clientOpts, role: 'client' });
  const server = new Multiplexer(t.server, { keepaliveIntervalMs: 0, ...serverOpts, role: 'server' });
  return {
    client,
    server,
    inject: t.inject,
    cleanup: async () => {
      client.close();
      server.close();
      await t.cleanup();
    },
  };
}

/** The server side of most tests: accept everything and echo it back, half-close included. */
function echo(server: Multiplexer): void {
  server.on('stream', (s) => {
    s.on('error', () => {});
    s.accept();
    s.pipe(s);
  });
}

function collect(stream: MuxStream, timeoutMs = 10_000): Promise<Buffer> {
  return readAll(stream, timeoutMs);
}

function streamError(stream: MuxStream, timeoutMs = 5000): Promise<LatchError> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no error event')), timeoutMs);
    stream.on('error', (err) => {
      clearTimeout(timer);
      if (err instanceof LatchError) resolve(err);
      else reject(err);
    });
  });
}

function closeEvent(mux: Multiplexer, timeoutMs = 5000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close event')), timeoutMs);
    mux.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason });
    });
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes with backpressure; `progress.written` shows how far the sender got. */
async function writeAll(stream: MuxStream, data: Buffer, progress: { written: number }, chunk = 16 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, off + chunk);
    const ok = stream.write(part);
    progress.written += part.length;
    if (!ok) await once(stream, 'drain');
  }
  stream.end();
}

for (const kind of KINDS) {
  void describe(`Multiplexer over ${kind}`, () => {
    const pairs: Pair[] = [];
    const pair = async (c: Opts = {}, s: Opts = {}): Promise<Pair> => {
      const p = await makePair(kind, c, s);
      pairs.push(p);
      return p;
    };
    after(async () => {
      for (const p of pairs) await p.cleanup();
    });

    void test('open, accept, echo 1 MiB, ping', async () => {
      const { client, server } = await pair();
      const seen: string[] = [];
      server.on('stream', (s) => seen.push(s.resourceId));
      echo(server);
      const s = client.openStream('postgres-prod');
      const opened = once(s, 'open', { signal: AbortSignal.timeout(5000) });
      const data = randomBytes(1024 * 1024);
      const back = collect(s);
      s.end(data);
      await opened;
      assert.equal(sha(await back), sha(data));
      assert.deepEqual(seen, ['postgres-prod']);
      assert.equal(s.id, 1);
      const rtt = await client.ping();
      assert.ok(rtt >= 0 && rtt < 5000);
      assert.ok((await server.ping()) >= 0);
    });

    void test('reject with a code: the client gets the named error', async () => {
      const { client, server } = await pair();
      server.on('stream', (s) => (s.resourceId === 'nope' ? s.reject(ResetCode.UNKNOWN_RESOURCE) : s.reject(ResetCode.DIAL_FAILED)));
      const a = client.openStream('nope');
      const b = client.openStream('down');
      const [ea, eb] = await Promise.all([streamError(a), streamError(b)]);
      assert.equal(ea.code, ErrorCode.UNKNOWN_RESOURCE);
      assert.equal(a.resetCode, ResetCode.UNKNOWN_RESOURCE);
      assert.equal(eb.code, ErrorCode.DIAL_FAILED);
      assert.equal(b.resetCode, ResetCode.DIAL_FAILED);
      await sleep(20);
      assert.equal(client.stats().streams, 0);
      assert.equal(server.stats().streams, 0);
      assert.equal(client.closed, false);
    });

    void test('half-close: each direction ends on its own', async () => {
      const { client, server } = await pair();
      // Server reads the request to its end, then answers and ends.
      server.on('stream', (s) => {
        s.accept();
        void collect(s).then((req) => s.end(Buffer.concat([Buffer.from('got:'), req])));
      });
      const s = client.openStream('svc');
      const reply = collect(s);
      s.end('hello');
      assert.equal((await reply).toString(), 'got:hello');

      // Other way round: the server ends first, the client keeps writing afterwards.
      server.removeAllListeners('stream');
      const serverGot = new Promise<Buffer>((resolve) => {
        server.on('stream', (s2) => {
          s2.accept();
          s2.end('bye');
          void collect(s2).then(resolve);
        });
      });
      const c2 = client.openStream('svc');
      assert.equal((await collect(c2)).toString(), 'bye');
      c2.write('still ');
      c2.end('writing');
      assert.equal((await serverGot).toString(), 'still writing');
    });

    void test('reset in both directions', async () => {
      const { client, server } = await pair();
      const serverStreams: MuxStream[] = [];
      server.on('stream', (s) => {
        serverStreams.push(s);
        s.accept();
      });
      const a = client.openStream('x');
      await once(a, 'open', { signal: AbortSignal.timeout(5000) });
      const serverA = serverStreams[0];
      assert.ok(serverA);
      const ea = streamError(serverA);
      a.reset();
      const err = await ea;
      assert.equal(err.code, ErrorCode.STREAM_RESET);
      assert.equal(serverA.resetCode, ResetCode.CANCEL);

      const b = client.openStream('y');
      await once(b, 'open', { signal: AbortSignal.timeout(5000) });
      const eb = streamError(b);
      serverStreams[1]?.reset(ResetCode.TARGET_RESET);
      assert.equal((await eb).code, ErrorCode.STREAM_RESET);
      assert.equal(b.resetCode, ResetCode.TARGET_RESET);
      // Writing to a reset stream fails; the session lives on.
      await sleep(20);
      assert.equal(client.stats().streams, 0);
      assert.equal(client.closed, false);
      assert.ok((await client.ping()) >= 0);
    });

    void test('64 concurrent streams of 256 KiB each, every byte verified', async () => {
      const { client, server } = await pair();
      echo(server);
      const results = await Promise.all(
        Array.from({ length: 64 }, async (_, i) => {
          const s = client.openStream(`r${i}`);
          const data = randomBytes(256 * 1024);
          const back = collect(s, 30_000);
          await writeAll(s, data, { written: 0 }, 8 * 1024 + i);
          return sha(await back) === sha(data);
        }),
      );
      assert.deepEqual(results, Array.from({ length: 64 }, () => true));
      await sleep(20);
      assert.equal(server.stats().streams, 0);
      assert.equal(server.stats().committedWindow, 0);
    });

    void test('flow control: a reader that stops reading stalls the sender after one window', async () => {
      const window = 256 * 1024;
      const { client, server } = await pair({}, { initialWindow: window });
      let serverStream: MuxStream | undefined;
      server.on('stream', (s) => {
        serverStream = s;
        s.accept(); // and never reads until told
      });
      const s = client.openStream('sink');
      const data = randomBytes(8 * 1024 * 1024);
      const progress = { written: 0 };
      const writing = writeAll(s, data, progress);
      // Wait until the sender stops making progress.
      let last = -1;
      for (let i = 0; i < 100 && last !== progress.written; i++) {
        last = progress.written;
        await sleep(100);
      }
      assert.equal(last, progress.written, 'sender stalled');
      assert.ok(serverStream);
      const st = server.stats();
      // Received and unread: at most one window. Everything this mux holds: window + a bound.
      assert.ok(st.receivedUnread <= window, `server holds ${st.receivedUnread} unread`);
      assert.ok(st.bufferedBytes <= window + 128 * 1024, `server buffers ${st.bufferedBytes}`);
      const ct = client.stats();
      assert.ok(ct.bufferedBytes <= 1024 * 1024, `client buffers ${ct.bufferedBytes}`);
      // The sender got no further than the window plus what sits in buffers on the way
      // (socket buffers of the kernel for TCP/TLS).
      assert.ok(progress.written < data.length / 2, `sender wrote ${progress.written} of ${data.length}`);
      // Resume: everything arrives intact.
      const got = await collect(serverStream, 30_000);
      await writing;
      assert.equal(sha(got), sha(data));
    });

    void test('every way of consuming earns credit: paused read(), a slow pipe, async iteration', async () => {
      const { client, server } = await pair();
      const size = 2 * 1024 * 1024; // many windows' worth at the 64 KiB starting window
      const consumers: Record<string, (s: MuxStream) => Promise<Buffer>> = {
        // Let a full window pile up unread, then drain it with read() in paused mode.
        paused: async (s) => {
          await sleep(100);
          const chunks: Buffer[] = [];
          return new Promise<Buffer>((resolve) => {
            const drain = (): void => {
              for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) chunks.push(c);
            };
            s.on('readable', drain);
            s.on('end', () => resolve(Buffer.concat(chunks)));
            drain();
          });
        },
        slowPipe: (s) =>
          new Promise<Buffer>((resolve, reject) => {
            const chunks: Buffer[] = [];
            const sink = new Writable({
              highWaterMark: 1024,
              write(chunk: Buffer, _enc, cb) {
                chunks.push(chunk);
                setImmediate(cb);
              },
            });
            sink.on('finish', () => resolve(Buffer.concat(chunks)));
            sink.on('error', reject);
            s.pipe(sink);
          }),
        iterate: async (s) => {
          const chunks: Buffer[] = [];
          for await (const c of s) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        },
      };
      for (const [name, consume] of Object.entries(consumers)) {
        const received = new Promise<Buffer>((resolve, reject) => {
          server.once('stream', (s) => {
            s.accept();
            consume(s).then(resolve, reject);
          });
        });
        const data = randomBytes(size);
        const c = client.openStream(name);
        const progress = { written: 0 };
        const done = Promise.all([received, writeAll(c, data, progress, 64 * 1024)]).then(([got]) => got);
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name}: stalled after ${progress.written} of ${size} bytes`)), 20_000);
        });
        const got = await Promise.race([done, stalled]).finally(() => clearTimeout(timer));
        assert.equal(sha(got), sha(data), `${name} consumer got ${got.length} of ${size} bytes`);
      }
    });

    void test('300 concurrent connections fit with default options (windows grow only for bulk streams)', async () => {
      const { client, server } = await pair();
      echo(server);
      const ok = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const s = client.openStream(`c${i}`);
          const data = randomBytes(64 * 1024);
          const back = collect(s, 30_000);
          s.end(data);
          return sha(await back) === sha(data);
        }),
      );
      assert.equal(ok.filter(Boolean).length, 300);
    });

    void test('a hand-crafted frame overrunning the window closes with FLOW_CONTROL', async () => {
      const { client, server, inject } = await pair();
      server.on('stream', () => {}); // never accepts, never reads: credit stays at the initial window
      const serverClosed = closeEvent(server);
      const clientClosed = closeEvent(client);
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const id = 1001;
      const part = Buffer.alloc(40_000, 1);
      assert.ok(part.length * 2 > INITIAL_WINDOW);
      inject(encodeFrame(FrameType.OPEN, Flag.SYN, id, Buffer.from('x')), encodeFrame(FrameType.DATA, 0, id, part), encodeFrame(FrameType.DATA, 0, id, part));
      assert.equal((await serverClosed).code, CloseCode.FLOW_CONTROL);
      assert.equal(server.closeError?.code, ErrorCode.FLOW_CONTROL);
      assert.ok(isLatchError(errors[0], ErrorCode.FLOW_CONTROL));
      assert.equal((await clientClosed).code, CloseCode.FLOW_CONTROL);
    });

    void test('an oversized frame closes with FRAME_TOO_LARGE', async () => {
      const max = 64 * 1024;
      const { client, server, inject } = await pair({}, { maxFrameSize: max });
      const serverClosed = closeEvent(server);
      const clientClosed = closeEvent(client);
      const header = Buffer.alloc(HEADER_SIZE);
      header.writeUInt8(1, 0);
      header.writeUInt8(FrameType.DATA, 1);
      header.writeUInt32BE(1, 4);
      header.writeUInt32BE(max + 1, 8);
      // Over a byte stream the header alone is enough; a WebSocket message is sent whole.
      inject(kind === 'ws' ? Buffer.concat([header, Buffer.alloc(max + 1)]) : header);
      await serverClosed;
      assert.equal(server.closeError?.code, ErrorCode.FRAME_TOO_LARGE);
      const { code } = await clientClosed;
      assert.equal(errorCodeForCloseCode(code), ErrorCode.FRAME_TOO_LARGE, `client saw close code ${code}`);
    });

    void test('garbage bytes close with BAD_VERSION, an unknown type with PROTOCOL_ERROR', async () => {
      const p1 = await pair();
      const c1 = closeEvent(p1.client);
      p1.inject(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.equal((await c1).code, CloseCode.BAD_VERSION);
      assert.equal(p1.server.closeError?.code, ErrorCode.BAD_VERSION);

      const p2 = await pair();
      const c2 = closeEvent(p2.client);
      const frame = encodeFrame(FrameType.DATA, 0, 1);
      frame.writeUInt8(0x42, 1);
      p2.inject(frame);
      assert.equal((await c2).code, CloseCode.PROTOCOL_ERROR);
      assert.equal(p2.server.closeError?.code, ErrorCode.UNKNOWN_FRAME_TYPE);

      const p3 = await pair();
      const c3 = closeEvent(p3.client);
      p3.inject(encodeFrame(FrameType.DATA, 0, 77, Buffer.from('no such stream')));
      assert.equal((await c3).code, CloseCode.PROTOCOL_ERROR);
      assert.equal(p3.server.closeError?.code, ErrorCode.UNKNOWN_STREAM);
    });

    void test('a stream beyond maxStreams is rejected with STREAM_LIMIT; the session continues', async () => {
      const { client, server } = await pair({}, { maxStreams: 2 });
      echo(server);
      const a = client.openStream('a');
      const b = client.openStream('b');
      const c = client.openStream('c');
      const ec = await streamError(c);
      assert.equal(ec.code, ErrorCode.STREAM_LIMIT);
      assert.equal(c.resetCode, ResetCode.STREAM_LIMIT);
      // The others still work, and once one finishes a new stream fits again.
      const backA = collect(a);
      a.end('A');
      assert.equal((await backA).toString(), 'A');
      await sleep(50);
      const d = client.openStream('d');
      const backD = collect(d);
      d.end('D');
      assert.equal((await backD).toString(), 'D');
      const backB = collect(b);
      b.end('B');
      assert.equal((await backB).toString(), 'B');
      assert.equal(client.closed, false);

      // The client enforces its own limit without asking the server.
      const limited = await pair({ maxStreams: 1 });
      echo(limited.server);
      const first = limited.client.openStream('one');
      const second = limited.client.openStream('two');
      assert.equal((await streamError(second)).code, ErrorCode.STREAM_LIMIT);
      const back = collect(first);
      first.end('1');
      assert.equal((await back).toString(), '1');
    });

    void test('keepalive: a silent peer is detected within two intervals', async () => {
      const interval = 150;
      const t = await makeTransports(kind);
      const client = new Multiplexer(t.client, { role: 'client', keepaliveIntervalMs: interval });
      // No multiplexer on the server transport: it reads and never answers.
      t.server.on('frame', () => {});
      t.server.on('error', () => {});
      const start = performance.now();
      const closed = closeEvent(client, 5000);
      const { code } = await closed;
      const elapsed = performance.now() - start;
      assert.equal(code, CloseCode.KEEPALIVE_TIMEOUT);
      assert.equal(client.closeError?.code, ErrorCode.KEEPALIVE_TIMEOUT);
      assert.ok(elapsed >= interval, `closed after ${elapsed} ms`);
      assert.ok(elapsed <= 2 * interval + 1000, `closed after ${elapsed} ms`);
      await t.cleanup();

      // A live peer answers pings: no false alarm over many intervals.
      const live = await pair({ keepaliveIntervalMs: 50 }, { keepaliveIntervalMs: 50 });
      await sleep(500);
      assert.equal(live.client.closed, false);
      assert.equal(live.server.closed, false);
    });

    void test('control messages round-trip; a malformed one is a protocol error', async () => {
      const { client, server } = await pair();
      const atServer = once(server, 'control', { signal: AbortSignal.timeout(5000) });
      client.sendControl({ type: 'activity', idleMs: 1234 });
      assert.deepEqual((await atServer)[0], { type: 'activity', idleMs: 1234 });
      const atClient = once(client, 'control', { signal: AbortSignal.timeout(5000) });
      server.sendControl({ type: 'session.warning', remainingMs: 120_000, deadline: 'idle' });
      assert.deepEqual((await atClient)[0], { type: 'session.warning', remainingMs: 120_000, deadline: 'idle' });
      assert.throws(() => client.sendControl({ type: '' }), (e: unknown) => isLatchError(e, ErrorCode.USAGE));

      const bad = await pair();
      const closed = closeEvent(bad.client);
      bad.inject(encodeFrame(FrameType.CONTROL, 0, 0, Buffer.from('[1,2,3]')));
      assert.equal((await closed).code, CloseCode.PROTOCOL_ERROR);
    });

    void test('close propagates to every stream on both sides, once', async () => {
      const { client, server } = await pair();
      const serverStreams: MuxStream[] = [];
      server.on('stream', (s) => {
        serverStreams.push(s);
        s.on('error', () => {});
        s.accept();
      });
      const streams = Array.from({ length: 5 }, (_, i) => client.openStream(`s${i}`));
      await Promise.all(streams.map((s) => once(s, 'open', { signal: AbortSignal.timeout(5000) })));
      let clientCloses = 0;
      let serverCloses = 0;
      client.on('close', () => clientCloses++);
      server.on('close', () => serverCloses++);
      const clientClosed = closeEvent(client);
      const errors = Promise.all(streams.map((s) => streamError(s)));
      const pendingPing = client.ping().then(
        () => 'resolved',
        (e: unknown) => (isLatchError(e, ErrorCode.CONNECTION_CLOSED) ? 'rejected' : 'other'),
      );
      server.close(CloseCode.SESSION_IDLE, 'idle for 15 min');
      server.close(CloseCode.SESSION_IDLE, 'again');
      assert.deepEqual(await clientClosed, { code: CloseCode.SESSION_IDLE, reason: 'idle for 15 min' });
      for (const e of await errors) assert.equal(e.code, ErrorCode.SESSION_ENDED);
      assert.ok(['resolved', 'rejected'].includes(await pendingPing));
      await sleep(50);
      assert.ok(serverStreams.every((s) => s.destroyed));
      assert.equal(client.closed, true);
      assert.equal(server.closed, true);
      assert.equal(clientCloses, 1);
      assert.equal(serverCloses, 1);
      assert.equal(client.stats().streams, 0);
      // After close: opening fails with a named error, control sends report false.
      const late = client.openStream('late');
      assert.equal((await streamError(late)).code, ErrorCode.CONNECTION_CLOSED);
      assert.equal(client.sendControl({ type: 'activity' }), false);
      await assert.rejects(client.ping(), (e: unknown) => isLatchError(e, ErrorCode.CONNECTION_CLOSED));
    });
  });
}

