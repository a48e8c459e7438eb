import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import tls from 'node:tls';
import forge from 'node-forge';
import WebSocket, { WebSocketServer } from 'ws';
import { ErrorCode } from '../common/errors.ts';
import { CloseCode, FrameType, SUBPROTOCOL } from './constants.ts';
import { Multiplexer } from './Multiplexer.ts';
import { encodeFrame } from './codec.ts';
import { WS_HEADROOM, WebSocketTransport, clientCiphers, wsClientOptions, zeroMask } from './WebSocketTransport.ts';

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

void test('frames written straight to the socket are valid WebSocket messages at every header size, both ways', async () => {
  const { client, server } = await connect();
  const clientTransport = new WebSocketTransport(client);
  const serverTransport = new WebSocketTransport(server);
  assert.equal(clientTransport.headroom, WS_HEADROOM, 'the client writes its own frames');
  assert.equal(serverTransport.headroom, WS_HEADROOM, 'the server writes its own frames');
  // Payloads whose frames need the 7-bit, the 16-bit and the 64-bit length (RFC 6455 §5.2).
  const frames = [0, 100, 200, 65_536].map((n, i) => encodeFrame(FrameType.DATA, 0, 2 * i + 1, Buffer.alloc(n, i + 1)));
  const withHeadroom = (f: Buffer): Buffer => Buffer.concat([Buffer.alloc(WS_HEADROOM, 0xee), f]);
  for (const [from, to] of [
    [clientTransport, server],
    [serverTransport, client],
  ] as const) {
    const received: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      to.on('message', (data: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, true);
        received.push(data);
        if (received.length === frames.length) resolve();
      });
    });
    for (const f of frames) assert.equal(from.sendWithHeadroom(withHeadroom(f)), true);
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error('messages missing')), 5000))]);
    to.removeAllListeners('message');
    assert.deepEqual(received, frames);
  }
  client.close();
});

void test('the client offers AES-128-GCM first, and a server with default settings picks it', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer([{ name: 'commonName', value: 'localhost' }]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const server = tls.createServer({ key: keyPem, cert: forge.pki.certificateToPem(cert), minVersion: 'TLSv1.2' }, (s) => s.end());
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
