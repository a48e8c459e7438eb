import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { selfSignedCert } from '../test/support/selfSignedCert.ts';
import { ErrorCode } from '../common/errors.ts';
import { CloseCode, FrameType, SUBPROTOCOL } from './constants.ts';
import { Multiplexer } from './Multiplexer.ts';
import { encodeFrame } from './codec.ts';
import { WebSocketTransport, clientCiphers, writeWsHeader, wsClientOptions, wsHeaderSize, zeroMask } from './WebSocketTransport.ts';

const servers: WebSocketServer[] = [];
after(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
});

async function connect(): Promise<{ client: WebSocket; server: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  servers.push(wss);
  await once(wss, 'listening');
  const addr = wss.address();
  assert.ok(addr !== null && typeof addr === 'object');
  const accepted = once(wss, 'connection', { signal: AbortSignal.timeout(5000) });
  const client = new WebSocket(`ws://127.0.0.1:${addr.port}`, SUBPROTOCOL, wsClientOptions(64 * 1024));
  await once(client, 'open', { signal: AbortSignal.timeout(5000) });
  const [server] = (await accepted) as [WebSocket];
  return { client, server };
}

void test('a text message is a protocol error: named close 4100', async () => {
  const { client, server } = await connect();
  const mux = new Multiplexer(new WebSocketTransport(server), { role: 'server', keepaliveIntervalMs: 0 });
  const closedByServer = new Promise<number>((resolve) => client.on('close', (code) => resolve(code)));
  const muxClosed = new Promise<number>((resolve) => mux.on('close', (c) => resolve(c)));
  client.send('hello');
  const code = await muxClosed;
  assert.equal(code, CloseCode.PROTOCOL_ERROR);
  assert.equal(mux.closeError?.code, ErrorCode.PROTOCOL);
  assert.equal(await closedByServer, CloseCode.PROTOCOL_ERROR);
});

void test('the zero mask client options carry frames intact', async () => {
  const mask = Buffer.from([1, 2, 3, 4]);
  zeroMask(mask);
  assert.deepEqual([...mask], [0, 0, 0, 0]);
  const { client, server } = await connect();
  const c = new Multiplexer(new WebSocketTransport(client), { role: 'client', keepaliveIntervalMs: 0 });
  const s = new Multiplexer(new WebSocketTransport(server), { role: 'server', keepaliveIntervalMs: 0 });
  s.on('stream', (st) => {
    st.accept();
    st.pipe(st);
  });
  const stream = c.openStream('echo');
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  const ended = once(stream, 'end', { signal: AbortSignal.timeout(5000) });
  stream.end(data);
  await ended;
  assert.ok(Buffer.concat(chunks).equals(data));
  c.close();
  s.close();
});

void test('WebSocket frame headers for every length encoding, client (masked, zero key) and server', () => {
  const header = (length: number, masked: boolean): string => {
    const b = Buffer.alloc(14, 0xee);
    return b.subarray(0, writeWsHeader(b, length, masked)).toString('hex');
  };
  assert.equal(header(12, false), '820c');
  assert.equal(header(12, true), '828c00000000');
  assert.equal(header(200, false), '827e00c8');
  assert.equal(header(200, true), '82fe00c800000000');
  assert.equal(header(65_548, false), '827f000000000001000c');
  assert.equal(header(65_548, true), '82ff000000000001000c00000000');
  for (const n of [0, 125, 126, 65_535, 65_536]) for (const m of [false, true]) assert.equal(header(n, m).length / 2, wsHeaderSize(n, m));
});

void test('frames written straight to the socket arrive as WebSocket messages at every size, both ways, reused buffers intact', async () => {
  const { client, server } = await connect();
  const clientTransport = new WebSocketTransport(client);
  const serverTransport = new WebSocketTransport(server);
  // Frames whose WebSocket length is 7-bit, 16-bit and 64-bit; then many full-size frames, each
  // with its own content, so a reusable buffer handed out again too early would corrupt one.
  const payloads = [0, 100, 5_000, 65_536].map((n, i) => Buffer.alloc(n, i + 1));
  for (let i = 0; i < 64; i++) payloads.push(randomBytes(65_536));
  const expected = payloads.map((p, i) => encodeFrame(FrameType.DATA, 0, 2 * i + 1, p));
  for (const [from, to] of [
    [clientTransport, server],
    [serverTransport, client],
  ] as const) {
    const received: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      to.on('message', (data: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, true);
        received.push(data);
        if (received.length === expected.length) resolve();
      });
    });
    payloads.forEach((p, i) => from.sendFrame(FrameType.DATA, 0, 2 * i + 1, p));
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`${received.length} of ${expected.length} messages`)), 10_000))]);
    to.removeAllListeners('message');
    assert.equal(received.length, expected.length);
    received.forEach((r, i) => assert.ok(r.equals(expected[i] ?? Buffer.alloc(0)), `frame ${i} differs`));
  }
  client.close();
});

void test('the client offers AES-128-GCM first, and a server with default settings picks it', async () => {
  const { key, cert } = selfSignedCert();
  const server = tls.createServer({ key, cert, minVersion: 'TLSv1.2' }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  try {
    assert.match(clientCiphers(), /^TLS_AES_128_GCM_SHA256:/);
    assert.doesNotMatch(clientCiphers(), /TLS_AES_256_GCM_SHA384|TLS_CHACHA20/);
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const socket: tls.TLSSocket = tls.connect({ host: '127.0.0.1', port: addr.port, rejectUnauthorized: false, ciphers: wsClientOptions(64 * 1024).ciphers, maxVersion });
      await once(socket, 'secureConnect', { signal: AbortSignal.timeout(5000) });
      const name: string = socket.getCipher().name;
      socket.destroy();
      assert.equal(name, maxVersion === 'TLSv1.3' ? 'TLS_AES_128_GCM_SHA256' : 'ECDHE-RSA-AES128-GCM-SHA256');
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
