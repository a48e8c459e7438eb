import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { ErrorCode } from '../common/errors.ts';
import { CloseCode, SUBPROTOCOL } from './constants.ts';
import { Multiplexer } from './Multiplexer.ts';
import { WebSocketTransport, wsClientOptions, zeroMask } from './WebSocketTransport.ts';

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
