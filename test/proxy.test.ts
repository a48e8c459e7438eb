/**
 * The reference proxy as real processes: `latch-proxy init`, `user add`, `enroll` and `serve`
 * are spawned exactly as an admin runs them; the test talks HTTPS and WSS to them with mutual
 * TLS, through the tunnel to a real TCP echo server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ApiPath, SUBPROTOCOL } from '../common/api.ts';
import type { LoginResponse } from '../common/api.ts';
import { CloseCode } from '../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { CertificateAuthority, createCa } from '../proxy/CertificateAuthority.ts';
import { makeKeyAndCsr } from '../proxy/testCsr.ts';
import { HEADER_SIZE, ResetCode } from '../tunnel/constants.ts';
import { Multiplexer } from '../tunnel/Multiplexer.ts';
import type { ControlMessage } from '../tunnel/Multiplexer.ts';
import type { MuxStream } from '../tunnel/MuxStream.ts';
import { WebSocketTransport } from '../tunnel/WebSocketTransport.ts';
import { echo, httpsRequest, killSpawned, runCli, serve, STEP_TIMEOUT_MS, withTimeout } from './support/proxyHarness.ts';
import type { ClientCreds, HttpResult, Serving } from './support/proxyHarness.ts';

const PASSWORD = 'alice-password-1';
const MAX_STREAMS = 16;
const WINDOW = 1024 * 1024;

let caPem = '';

function https(port: number, method: string, path: string, options: { body?: unknown; raw?: string | Buffer; creds?: Partial<ClientCreds> } = {}): Promise<HttpResult> {
  return httpsRequest(port, caPem, method, path, options);
}

async function login(port: number, body: Record<string, unknown>): Promise<ClientCreds & { response: LoginResponse }> {
  const { keyPem, csrPem } = makeKeyAndCsr();
  const res = await https(port, 'POST', ApiPath.LOGIN, { body: { ...body, csr: csrPem } });
  assert.equal(res.status, 200, res.text);
  const response = res.body as LoginResponse;
  return { certPem: response.certificate, keyPem, token: response.token, response };
}

interface UpgradeRefused {
  status: number;
  code: string;
}

/** Opens a WSS tunnel; resolves with the socket, or with the HTTP refusal (status + error code). */
function openTunnel(port: number, creds: Partial<ClientCreds>, protocols: string[] = [SUBPROTOCOL]): Promise<WebSocket | UpgradeRefused> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}${ApiPath.TUNNEL}`, protocols, {
      ca: caPem,
      ...(creds.certPem ? { cert: creds.certPem } : {}),
      ...(creds.keyPem ? { key: creds.keyPem } : {}),
      headers: creds.token ? { authorization: `Bearer ${creds.token}` } : {},
      perMessageDeflate: false,
      handshakeTimeout: STEP_TIMEOUT_MS,
    });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        const body = JSON.parse(text) as { code: string };
        resolve({ status: res.statusCode ?? 0, code: body.code });
      });
    });
    ws.on('error', reject);
  });
}

async function refusal(port: number, creds: Partial<ClientCreds>, protocols?: string[]): Promise<UpgradeRefused> {
  const result = await openTunnel(port, creds, protocols);
  if (result instanceof WebSocket) {
    result.terminate();
    assert.fail('the upgrade was accepted');
  }
  return result;
}

async function tunnel(port: number, creds: ClientCreds): Promise<{ ws: WebSocket; mux: Multiplexer; controls: ControlMessage[]; closed: Promise<[number, string]> }> {
  const ws = await openTunnel(port, creds);
  assert.ok(ws instanceof WebSocket, `tunnel refused: ${JSON.stringify(ws)}`);
  const mux = new Multiplexer(new WebSocketTransport(ws), { role: 'client', keepaliveIntervalMs: 0 });
  const controls: ControlMessage[] = [];
  mux.on('control', (m) => controls.push(m));
  mux.on('error', () => undefined);
  const closed = new Promise<[number, string]>((resolve) => mux.on('close', (code, reason) => resolve([code, reason])));
  return { ws, mux, controls, closed };
}

function streamError(stream: MuxStream): Promise<LatchError> {
  return withTimeout(
    new Promise<LatchError>((resolve, reject) => {
      stream.on('error', (err) => (err instanceof LatchError ? resolve(err) : reject(err)));
      stream.on('open', () => reject(new Error('the stream was accepted')));
    }),
    'stream rejection',
  );
}

void describe('latch-proxy as real processes', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-proxy-it-'));
  const configFile = join(dir, 'latch-proxy.yaml');
  const shortConfigFile = join(dir, 'short.yaml');
  let echoServer: Server;
  let sinkServer: Server;
  let floodServer: Server;
  let countServer: Server;
  const echoSockets = new Set<Socket>();
  let main: Serving;
  let short: Serving;
  let enrollmentCode = '';

  before(async () => {
    echoServer = createServer((socket) => {
      socket.setNoDelay(true);
      echoSockets.add(socket);
      socket.on('close', () => echoSockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
    const echoPort = (echoServer.address() as AddressInfo).port;
    // A target that accepts and never reads.
    sinkServer = createServer((socket) => {
      echoSockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.pause();
    });
    // A target that writes as fast as the connection takes it (bounded: 256 MiB).
    floodServer = createServer((socket) => {
      echoSockets.add(socket);
      socket.on('error', () => socket.destroy());
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      let sent = 0;
      const pump = (): void => {
        while (!socket.destroyed && sent < 256 * 1024 * 1024) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    // A target that reads until the client half-closes, then answers with the byte count and closes.
    countServer = createServer({ allowHalfOpen: true }, (socket) => {
      echoSockets.add(socket);
      socket.on('error', () => socket.destroy());
      let count = 0;
      socket.on('data', (d: Buffer) => (count += d.length));
      socket.on('end', () => socket.end(String(count)));
    });
    await new Promise<void>((resolve) => countServer.listen(0, '127.0.0.1', resolve));
    const countPort = (countServer.address() as AddressInfo).port;
    await new Promise<void>((resolve) => sinkServer.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => floodServer.listen(0, '127.0.0.1', resolve));
    const sinkPort = (sinkServer.address() as AddressInfo).port;
    const floodPort = (floodServer.address() as AddressInfo).port;

    const init = await runCli(['init', dir, '--listen', '127.0.0.1:0', '--host', 'proxy.test']);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /CA fingerprint: sha256:[0-9a-f]{64}/);
    caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');

    const starter = readFileSync(configFile, 'utf8');
    assert.match(starter, /^resources: \[\]$/m);
    const resources = `resources:\n  - id: echo\n    target: 127.0.0.1:${echoPort}\n    group: default\n  - id: closed-port\n    target: 127.0.0.1:1\n  - id: sink\n    target: 127.0.0.1:${sinkPort}\n  - id: flood\n    target: 127.0.0.1:${floodPort}\n  - id: count\n    target: 127.0.0.1:${countPort}\n`;
    writeFileSync(configFile, starter.replace(/^resources: \[\]$/m, resources).replace('keepaliveInterval: 15s', 'keepaliveInterval: 1s').replace(/maxStreams: \d+/, `maxStreams: ${MAX_STREAMS}`).replace(/initialWindow: \S+/, `initialWindow: ${WINDOW}`));
    // A second proxy with its own data directory (store, audit trail, admin socket).
    mkdirSync(join(dir, 'short'));
    writeFileSync(shortConfigFile, readFileSync(configFile, 'utf8').replace('maxDuration: 8h', 'maxDuration: 2s').replace('store: latch.db', 'store: short/latch.db'));

    const add = await runCli(['user', 'add', 'alice', '--config', configFile], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const addShort = await runCli(['user', 'add', 'alice', '--config', shortConfigFile], `${PASSWORD}\n`);
    assert.equal(addShort.code, 0, addShort.stderr);
    const enroll = await runCli(['enroll', 'alice', '--config', configFile, '--ttl', '10m']);
    assert.equal(enroll.code, 0, enroll.stderr);
    enrollmentCode = /^code: (\S+)$/m.exec(enroll.stdout)?.[1] ?? '';
    const link = /^link: (latch:\/\/enroll\?\S+)$/m.exec(enroll.stdout)?.[1] ?? '';
    const params = new URL(link).searchParams;
    assert.equal(params.get('code'), enrollmentCode);
    assert.match(params.get('fp') ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.match(params.get('proxy') ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);

    main = await serve(configFile, { LATCH_PROXY_DEBUG_STATS: '1' });
    short = await serve(shortConfigFile, { LATCH_PROXY_DEBUG_STATS: '1' });
  });

  after(async () => {
    killSpawned();
    for (const socket of echoSockets) socket.destroy();
    await Promise.all([echoServer, sinkServer, floodServer, countServer].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    rmSync(dir, { recursive: true, force: true });
  });

  void it('init refuses to overwrite a config without --force; bad usage exits 2', async () => {
    const again = await runCli(['init', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^latch-proxy: LATCH_ERR_CONFIG: .*already exists/m);
    const usage = await runCli(['user']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: latch-proxy/);
    const short = await runCli(['user', 'add', 'bob', '--config', configFile], 'short\n');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 8 characters/);
    const dup = await runCli(['user', 'add', 'alice', '--config', configFile], 'another-password\n');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const nobody = await runCli(['enroll', 'nobody', '--config', configFile]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /^latch-proxy: LATCH_ERR_USAGE: no user "nobody"/m);
    assert.equal((await runCli(['user', 'add', 'carol', '--config', configFile], 'carol-password\n')).code, 0);
    assert.match((await runCli(['user', 'list', '--config', configFile])).stdout, /^alice\t.*\ncarol\t/m);
    assert.equal((await runCli(['user', 'remove', 'carol', '--config', configFile])).code, 0);
    assert.doesNotMatch((await runCli(['user', 'list', '--config', configFile])).stdout, /carol/);
    const badConfig = join(dir, 'bad.yaml');
    writeFileSync(badConfig, `${readFileSync(configFile, 'utf8')}\nbogus: 1\n`);
    const bad = await runCli(['serve', '--config', badConfig]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /LATCH_ERR_CONFIG: .*bad\.yaml:\d+: bogus: unknown key/);
  });

  void it('serves the CA whose fingerprint it printed', async () => {
    const res = await https(main.port, 'GET', ApiPath.CA);
    assert.equal(res.status, 200);
    const cert = new X509Certificate(res.text);
    assert.equal(`sha256:${cert.fingerprint256.replace(/:/g, '').toLowerCase()}`, main.fingerprint);
  });

  void it('password login returns a session, a token and a certificate bounded by the session', async () => {
    const before = Date.now();
    const { response } = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD, device: 'test' });
    assert.equal(response.user, 'alice');
    assert.deepEqual(response.resources, [
      { id: 'echo', group: 'default' },
      { id: 'closed-port', group: 'default' },
      { id: 'sink', group: 'default' },
      { id: 'flood', group: 'default' },
      { id: 'count', group: 'default' },
    ]);
    const cert = new X509Certificate(response.certificate);
    assert.ok(cert.verify(new X509Certificate(caPem).publicKey));
    assert.ok(Date.parse(cert.validTo) <= before + 8 * 3_600_000 + 5_000);
    assert.ok(response.expiresInMs <= 8 * 3_600_000);
  });

  void it('a bad password and an unknown user are the same AUTH_REJECTED', async () => {
    const { csrPem } = makeKeyAndCsr();
    const wrong = await https(main.port, 'POST', ApiPath.LOGIN, { body: { method: 'password', user: 'alice', password: 'nope-nope', csr: csrPem } });
    const unknown = await https(main.port, 'POST', ApiPath.LOGIN, { body: { method: 'password', user: 'mallory', password: 'nope-nope', csr: csrPem } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    assert.equal((wrong.body as { code: string }).code, ErrorCode.AUTH_REJECTED);
  });

  void it('repeated wrong passwords for one user from one address are RATE_LIMITED', async () => {
    const { csrPem } = makeKeyAndCsr();
    const attempt = (): Promise<HttpResult> => https(main.port, 'POST', ApiPath.LOGIN, { body: { method: 'password', user: 'mallory', password: 'guess-guess', csr: csrPem } });
    const codes: string[] = [];
    for (let i = 0; i < 11; i++) codes.push(((await attempt()).body as { code: string }).code);
    assert.ok(codes.slice(0, 9).every((c) => c === ErrorCode.AUTH_REJECTED), codes.join());
    const last = await attempt();
    assert.equal(last.status, 429);
    assert.equal((last.body as { code: string }).code, ErrorCode.RATE_LIMITED);
  });

  void it('an enrollment code signs in once; reusing it is ENROLLMENT_INVALID', async () => {
    const first = await login(main.port, { method: 'enrollment', code: enrollmentCode });
    assert.equal(first.response.user, 'alice');
    const { csrPem } = makeKeyAndCsr();
    const reused = await https(main.port, 'POST', ApiPath.LOGIN, { body: { method: 'enrollment', code: enrollmentCode, csr: csrPem } });
    assert.equal(reused.status, 401);
    assert.equal((reused.body as { code: string }).code, ErrorCode.ENROLLMENT_INVALID);
  });

  void it('malformed and oversized login bodies are BAD_REQUEST (400 / 413); unknown paths 404', async () => {
    const garbage = await https(main.port, 'POST', ApiPath.LOGIN, { raw: '{not json' });
    assert.equal(garbage.status, 400);
    assert.equal((garbage.body as { code: string }).code, ErrorCode.BAD_REQUEST);
    const small = makeKeyAndCsr(1024);
    const weak = await https(main.port, 'POST', ApiPath.LOGIN, { body: { method: 'password', user: 'alice', password: PASSWORD, csr: small.csrPem } });
    assert.equal(weak.status, 400);
    const huge = await https(main.port, 'POST', ApiPath.LOGIN, { raw: `{"pad":"${'x'.repeat(100 * 1024)}"}` });
    assert.equal(huge.status, 413);
    assert.equal((huge.body as { code: string }).code, ErrorCode.BAD_REQUEST);
    const missing = await https(main.port, 'GET', '/v1/nothing');
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { code: string }).code, ErrorCode.NOT_FOUND);
  });

  void it('the API needs the certificate and the token of the same session', async () => {
    const a = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const b = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const ok = await https(main.port, 'GET', ApiPath.RESOURCES, { creds: a });
    assert.equal(ok.status, 200);
    assert.deepEqual((ok.body as { resources: unknown[] }).resources.length, 5);
    const noCert = await https(main.port, 'GET', ApiPath.RESOURCES, { creds: { token: a.token } });
    assert.equal((noCert.body as { code: string }).code, ErrorCode.CERT_UNKNOWN);
    const crossed = await https(main.port, 'GET', ApiPath.RESOURCES, { creds: { ...a, token: b.token } });
    assert.equal(crossed.status, 401);
    assert.equal((crossed.body as { code: string }).code, ErrorCode.TOKEN_INVALID);
  });

  void it('refuses tunnel upgrades: no certificate, another CA, no subprotocol', async () => {
    const creds = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    assert.deepEqual(await refusal(main.port, { token: creds.token }), { status: 401, code: ErrorCode.CERT_UNKNOWN });

    const foreign = new CertificateAuthority(createCa('Somebody else'));
    const { keyPem, csrPem } = makeKeyAndCsr();
    const foreignCert = foreign.issueClientCertificate(csrPem, 'alice', new Date(Date.now() + 3_600_000));
    assert.deepEqual(await refusal(main.port, { certPem: foreignCert.certPem, keyPem, token: creds.token }), { status: 401, code: ErrorCode.CERT_UNKNOWN });

    assert.deepEqual(await refusal(main.port, creds, []), { status: 400, code: ErrorCode.SUBPROTOCOL });
    assert.deepEqual(await refusal(main.port, creds, ['latch.v0']), { status: 400, code: ErrorCode.SUBPROTOCOL });
  });

  void it('refuses an expired certificate with CERT_EXPIRED', async () => {
    const creds = await login(short.port, { method: 'password', user: 'alice', password: PASSWORD });
    const validTo = Date.parse(new X509Certificate(creds.certPem).validTo);
    assert.ok(validTo <= Date.now() + 2_000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, validTo - Date.now()) + 1_500));
    assert.deepEqual(await refusal(short.port, creds), { status: 401, code: ErrorCode.CERT_EXPIRED });
  });

  void it('a tunnel carries bytes to a configured target; an unknown resource is reset with UNKNOWN_RESOURCE', async () => {
    const creds = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const t = await tunnel(main.port, creds);
    try {
      const state = await withTimeout(
        (async () => {
          while (t.controls.length === 0) await new Promise((r) => setTimeout(r, 20));
          return t.controls[0];
        })(),
        'session.state',
      );
      assert.equal(state?.type, 'session.state');
      assert.equal(state?.sessionId, creds.response.sessionId);

      const stream = t.mux.openStream('echo');
      const payload = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
      const back = await echo(stream, payload);
      assert.equal(back.length, payload.length);
      assert.ok(back.equals(payload), 'echoed bytes differ');
      stream.end();

      const unknown = await streamError(t.mux.openStream('nope'));
      assert.equal(unknown.code, ErrorCode.UNKNOWN_RESOURCE);
      const refused = await streamError(t.mux.openStream('closed-port'));
      assert.equal(refused.code, ErrorCode.DIAL_FAILED);

      // Half-close both ways: the client's FIN reaches the target, the target's answer and FIN come back.
      const counter = t.mux.openStream('count');
      const answer = withTimeout(
        new Promise<string>((resolve, reject) => {
          let text = '';
          counter.on('data', (d: Buffer) => (text += d.toString()));
          counter.on('end', () => resolve(text));
          counter.on('error', reject);
        }),
        'count answer',
      );
      counter.end(Buffer.alloc(300_000, 1));
      assert.equal(await answer, '300000');

      // Past maxStreams a stream is refused with STREAM_LIMIT; the session goes on.
      const held = Array.from({ length: MAX_STREAMS }, () => t.mux.openStream('echo'));
      await Promise.all(held.map((h, i) => echo(h, Buffer.from(`held ${i}`))));
      const over = await streamError(t.mux.openStream('echo'));
      assert.equal(over.code, ErrorCode.STREAM_LIMIT);
      for (const h of held) h.destroy();
      await new Promise((r) => setTimeout(r, 200));

      // The session keeps working after rejected streams.
      const again = t.mux.openStream('echo');
      assert.equal((await echo(again, Buffer.from('still here'))).toString(), 'still here');
      again.end();

      const statsRes = await https(main.port, 'GET', '/v1/debug/stats');
      const stats = statsRes.body as { sessions: number; streams: number; bufferedBytes: number; rss: number };
      assert.ok(stats.sessions >= 1);
      assert.ok(stats.rss > 0);
    } finally {
      t.mux.close(CloseCode.NORMAL, 'done');
    }
    assert.equal(ResetCode.UNKNOWN_RESOURCE, 0x01);
  });

  void it('flow control: a target or a client that stops reading does not make the proxy buffer', async () => {
    const t = await tunnel(main.port, await login(main.port, { method: 'password', user: 'alice', password: PASSWORD }));
    const stats = async (): Promise<{ sessions: number; streams: number; bufferedBytes: number; rss: number }> =>
      (await https(main.port, 'GET', '/v1/debug/stats')).body as { sessions: number; streams: number; bufferedBytes: number; rss: number };
    // The proxy may hold one receive window per stream plus a fixed allowance for frames in flight.
    const bound = WINDOW + 512 * 1024;
    try {
      // Upstream: push into a target that never reads, respecting our own backpressure.
      const sink = t.mux.openStream('sink');
      sink.on('error', () => undefined);
      const chunk = Buffer.alloc(256 * 1024, 0xa5);
      let written = 0;
      const limit = 64 * 1024 * 1024;
      await withTimeout(
        new Promise<void>((resolve) => {
          const pump = (): void => {
            while (written < limit) {
              written += chunk.length;
              if (!sink.write(chunk)) {
                const stall = setTimeout(resolve, 1_500);
                sink.once('drain', () => {
                  clearTimeout(stall);
                  pump();
                });
                return;
              }
            }
            resolve();
          };
          pump();
        }),
        'sink stalls',
      );
      assert.ok(written < limit, 'the sender never stalled: backpressure did not reach the client');
      const upstream = await stats();
      assert.ok(upstream.bufferedBytes <= bound, `proxy buffers ${upstream.bufferedBytes} bytes for a stalled target`);

      // Downstream: a target that floods a client that does not read.
      const flood = t.mux.openStream('flood');
      flood.on('error', () => undefined);
      flood.pause();
      await new Promise((r) => setTimeout(r, 1_500));
      const downstream = await stats();
      assert.ok(downstream.bufferedBytes <= 2 * bound, `proxy buffers ${downstream.bufferedBytes} bytes for a client that does not read`);
      const later = await stats();
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(later.rss < upstream.rss + 64 * 1024 * 1024, `proxy RSS grew from ${upstream.rss} to ${later.rss}`);
    } finally {
      t.mux.close(CloseCode.NORMAL, 'done');
    }
  });

  void it('a newer tunnel for the same session replaces the older one', async () => {
    const creds = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const first = await tunnel(main.port, creds);
    const second = await tunnel(main.port, creds);
    const [code] = await withTimeout(first.closed, 'old tunnel closed');
    assert.equal(code, CloseCode.SESSION_REPLACED);
    const s = second.mux.openStream('echo');
    assert.equal((await echo(s, Buffer.from('second'))).toString(), 'second');
    second.mux.close(CloseCode.NORMAL, 'done');
  });

  void it('a bad peer gets a named close and the proxy keeps serving everyone else', async () => {
    const good = await tunnel(main.port, await login(main.port, { method: 'password', user: 'alice', password: PASSWORD }));
    const goodStream = good.mux.openStream('echo');
    assert.equal((await echo(goodStream, Buffer.from('before'))).toString(), 'before');

    // Garbage bytes after the upgrade: a binary message that is not a frame (its first byte is no version).
    const badCreds = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const garbage = await openTunnel(main.port, badCreds);
    assert.ok(garbage instanceof WebSocket);
    const garbageClosed = new Promise<number>((resolve) => garbage.on('close', (code) => resolve(code)));
    garbage.send(Buffer.from('GET / HTTP/1.1\r\n\r\n this is not a latch frame'));
    assert.equal(await withTimeout(garbageClosed, 'garbage peer closed'), CloseCode.BAD_VERSION);

    // An oversized message: ws bounds it before buffering (1009), the proxy closes that tunnel only.
    const bigCreds = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const big = await openTunnel(main.port, bigCreds);
    assert.ok(big instanceof WebSocket);
    const bigClosed = new Promise<number>((resolve) => big.on('close', (code) => resolve(code)));
    big.on('error', () => undefined);
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt8(0x01, 0);
    header.writeUInt32BE(1, 4);
    header.writeUInt32BE(1024 * 1024, 8);
    big.send(Buffer.concat([header, Buffer.alloc(1024 * 1024)]));
    const bigCode = await withTimeout(bigClosed, 'oversized peer closed');
    assert.ok(bigCode === 1009 || bigCode === CloseCode.FRAME_TOO_LARGE, `close code ${bigCode}`);

    assert.equal((await echo(goodStream, Buffer.from('after'))).toString(), 'after');
    good.mux.close(CloseCode.NORMAL, 'done');
    // One log line names each violation.
    const events = main.stderr().split('\n').filter((l) => l.includes('"event":"tunnel.error"'));
    assert.ok(events.some((l) => l.includes(ErrorCode.BAD_VERSION)), events.join('\n'));
    assert.ok(events.some((l) => l.includes(ErrorCode.FRAME_TOO_LARGE)), events.join('\n'));
  });

  void it('logout ends the session, closes its tunnel with SESSION_LOGOUT and refuses its credentials', async () => {
    const creds = await login(main.port, { method: 'password', user: 'alice', password: PASSWORD });
    const t = await tunnel(main.port, creds);
    const res = await https(main.port, 'POST', ApiPath.LOGOUT, { creds });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ended: true });
    const [code] = await withTimeout(t.closed, 'tunnel closed after logout');
    assert.equal(code, CloseCode.SESSION_LOGOUT);
    assert.ok(t.controls.some((m) => m.type === 'session.ended' && m.reason === 'logout'));
    const after = await https(main.port, 'GET', ApiPath.RESOURCES, { creds });
    assert.equal(after.status, 403);
    assert.equal((after.body as { code: string }).code, ErrorCode.SESSION_ENDED);
    assert.deepEqual(await refusal(main.port, creds), { status: 403, code: ErrorCode.SESSION_ENDED });
  });

  void it('SIGTERM closes tunnels with SERVER_SHUTDOWN and exits 0', async () => {
    const t = await tunnel(main.port, await login(main.port, { method: 'password', user: 'alice', password: PASSWORD }));
    main.child.kill('SIGTERM');
    const [code] = await withTimeout(t.closed, 'tunnel closed on shutdown');
    assert.equal(code, CloseCode.SERVER_SHUTDOWN);
    assert.equal(await withTimeout(main.exited, 'serve exited'), 0);
    short.child.kill('SIGTERM');
    assert.equal(await withTimeout(short.exited, 'short serve exited'), 0);
  });
});
