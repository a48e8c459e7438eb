// Issue 2's bar on real parts: `latch-proxy` (init, user add, enroll, serve) and the `latch`
// terminal client (login, connect, logout) as processes on the pinned Node, a real redis-server
// driven by redis-benchmark and redis-cli, TCP targets owned by the test, the run's Secret
// Service (gnome-keyring) checked with secret-tool. Each case has its own proxy data directory
// and client config directory, so the cases run concurrently.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { ApiPath, SUBPROTOCOL } from '../common/api.ts';
import { CloseCode } from '../common/closeCodes.ts';
import { ErrorCode } from '../common/errors.ts';
import { KeyringCredentialStore } from '../main/core/KeyringCredentialStore.ts';
import { CertificateAuthority, createCa } from '../proxy/CertificateAuthority.ts';
import { makeKeyAndCsr } from '../proxy/testCsr.ts';
import { HEADER_SIZE } from '../tunnel/constants.ts';
import { rssBytes, runChild, stopAll } from './support/children.ts';
import type { Child } from './support/children.ts';
import { keychainAccounts, keychainSecret, sessionItems, sessionSecrets } from './support/keychain.ts';
import { filesUnder, latchClient, listeningPort, parseEvents, waitForEvent } from './support/runLatch.ts';
import type { LatchClient } from './support/runLatch.ts';
import { proxyRequest, startProxy } from './support/startProxy.ts';
import type { ProxyHandle } from './support/startProxy.ts';
import { startRedis } from './support/startRedis.ts';
import type { RedisHandle } from './support/startRedis.ts';
import { connectTcp, echoVerified, startEchoTarget, startFloodTarget, startSinkTarget } from './support/tcpTargets.ts';

const USER = 'alice';
const PASSWORD = 'alice-e2e-password';
const MiB = 1024 * 1024;

const cleanups: Array<() => Promise<void> | void> = [];
/** Registers a clean-up for after(); returns the value for chaining. */
function owned<T>(value: T, cleanup: (v: T) => Promise<void> | void): T {
  cleanups.push(() => cleanup(value));
  return value;
}

async function proxyFor(resources: Array<{ id: string; target: string; group?: string }>, extra: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<ProxyHandle> {
  const proxy = await startProxy({ resources, users: [{ name: USER, password: PASSWORD }], ...extra });
  return owned(proxy, (p) => p.stop());
}

function clientFor(keychainService?: string): LatchClient {
  return owned(latchClient(keychainService === undefined ? {} : { keychainService }), (c) => c.remove());
}

/** `latch connect RESOURCES --json` until every listener is up; resolves with the ports. */
async function connect(client: LatchClient, resources: readonly string[]): Promise<{ child: Child; ports: Map<string, number> }> {
  const child = client.spawn(['connect', ...resources, '--json']);
  const ports = new Map<string, number>();
  for (const r of resources) ports.set(r, await listeningPort(child, r));
  return { child, ports };
}

function portOf(ports: Map<string, number>, resource: string): number {
  const port = ports.get(resource);
  assert.ok(port !== undefined, `no listener for ${resource}`);
  return port;
}

/** One request/response on an open socket to an echo target (bounded). */
function roundTrip(socket: net.Socket, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => done(new Error(`no echo of "${text}" within ${timeoutMs} ms (got "${got}")`)), timeoutMs);
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= text.length) done();
    };
    const onClose = (): void => done(new Error(`connection closed while waiting for "${text}"`));
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(got);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(text);
  });
}

/** Resolves once `sample()` has not grown for `quietMs` (or after maxMs); the last value. */
async function whenStable(sample: () => number, quietMs: number, maxMs: number): Promise<number> {
  const start = Date.now();
  let last = sample();
  let since = Date.now();
  while (Date.now() - start < maxMs) {
    await sleep(100);
    const now = sample();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      break;
    }
  }
  return last;
}

// Three cases at a time: the heavy ones (200 × 1 MiB, redis-benchmark) saturate this 2-core
// machine on their own, and the session suite may run beside this one.
void describe('issue 2 bar: tunnels through real latch and latch-proxy processes', { timeout: 240_000, concurrency: 3 }, () => {
  let redis: RedisHandle;

  before(async () => {
    assert.ok(process.env['DBUS_SESSION_BUS_ADDRESS'], 'DBUS_SESSION_BUS_ADDRESS is not set: run under `npm test` (scripts/desktop-env.mjs starts the Secret Service)');
    redis = owned(await startRedis(), (r) => r.stop());
  });

  after(async () => {
    await stopAll();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  void test('redis-benchmark through a Latch tunnel against a real redis-server: zero errors', async (t: TestContext) => {
    const proxy = await proxyFor([{ id: 'redis', target: `127.0.0.1:${redis.port}` }]);
    const client = clientFor();
    await client.login(proxy, USER, PASSWORD);
    const { child, ports } = await connect(client, ['redis']);
    const port = portOf(ports, 'redis');

    // A write through the tunnel is visible on the real server, read directly.
    const key = `latch:e2e:${randomBytes(4).toString('hex')}`;
    assert.equal((await redis.cli(['SET', key, 'through-the-tunnel'], port)).trim(), 'OK');
    assert.equal((await redis.cli(['GET', key])).trim(), 'through-the-tunnel');

    const before = await redis.info('stats');
    const requests = 2_000;
    const clients = 20;
    const tests = ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'LPUSH', 'LPOP'];
    const bench = await runChild('redis-benchmark', 'redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-n', String(requests), '-c', String(clients), '-t', 'ping,set,get,incr,lpush,lpop', '--csv'], { timeoutMs: 90_000 });
    assert.equal(bench.code, 0, `redis-benchmark failed: ${bench.stderr}`);
    assert.doesNotMatch(bench.stderr, /error|could not|refused|reset/i, bench.stderr);
    const rows = bench.stdout.trim().split('\n').slice(1).map((l) => l.split(',').map((c) => c.replace(/^"|"$/g, '')));
    assert.deepEqual(rows.map((r) => r[0]), tests, bench.stdout);
    for (const r of rows) assert.ok(Number(r[1]) > 0, `no requests per second for ${r[0]}: ${bench.stdout}`);
    t.diagnostic(`redis-benchmark through Latch (-n ${requests} -c ${clients}): ${rows.map((r) => `${r[0]} ${r[1]} rps p50 ${r[4]} ms`).join('; ')}`);

    // The real server processed every request (plus the benchmark's own CONFIG GETs) and saw
    // the benchmark's connections arrive through the proxy; none were refused.
    const afterStats = await redis.info('stats');
    const delta = (k: string): number => Number(afterStats.get(k)) - Number(before.get(k));
    assert.ok(delta('total_commands_processed') >= requests * tests.length, `redis processed ${delta('total_commands_processed')} commands`);
    assert.ok(delta('total_connections_received') >= clients, `redis accepted ${delta('total_connections_received')} connections`);
    assert.equal(afterStats.get('rejected_connections'), '0');
    assert.deepEqual(parseEvents(child.stdout).filter((e) => e.event === 'connection.error'), [], 'latch connect reported no connection errors');

    child.signal('SIGTERM');
    assert.equal((await child.wait(10_000)).code, 0, child.tail());
  });

  void test('200 concurrent tunneled connections each echo 1 MiB, every byte verified', async (t: TestContext) => {
    const target = owned(await startEchoTarget(), (x) => x.close());
    const proxy = await proxyFor([{ id: 'echo', target: `127.0.0.1:${target.port}` }]);
    const client = clientFor();
    await client.login(proxy, USER, PASSWORD);
    const { child, ports } = await connect(client, ['echo']);
    const port = portOf(ports, 'echo');

    const connections = 200;
    // Distinct random bytes per connection: a swapped or mixed-up stream cannot pass.
    const payloads = Array.from({ length: connections }, () => randomBytes(MiB));
    const started = Date.now();
    const verified = await Promise.all(payloads.map((p) => echoVerified(port, p, 120_000)));
    t.diagnostic(`200 × 1 MiB echoed through Latch in ${Date.now() - started} ms`);
    assert.equal(verified.length, connections);
    assert.ok(verified.every((n) => n === MiB));
    assert.ok(target.accepted() >= connections, `the target saw ${target.accepted()} connections`);
    assert.deepEqual(parseEvents(child.stdout).filter((e) => e.event === 'connection.error'), []);
    child.signal('SIGTERM');
    assert.equal((await child.wait(10_000)).code, 0, child.tail());
  });

  void test('a reader that stops reading: client and proxy buffer no more than the window plus a fixed bound', async (t: TestContext) => {
    const FLOOD_LIMIT = 256 * MiB;
    const flood = owned(await startFloodTarget(FLOOD_LIMIT), (x) => x.close());
    const sink = owned(await startSinkTarget(), (x) => x.close());
    const target = owned(await startEchoTarget(), (x) => x.close());
    const WINDOW = MiB;
    const proxy = await proxyFor(
      [
        { id: 'flood', target: `127.0.0.1:${flood.port}` },
        { id: 'sink', target: `127.0.0.1:${sink.port}` },
        { id: 'echo', target: `127.0.0.1:${target.port}` },
      ],
      { limits: { initialWindow: '1MiB' } },
    );
    const client = clientFor();
    await client.login(proxy, USER, PASSWORD);
    const { child, ports } = await connect(client, ['flood', 'sink', 'echo']);
    // Warm both processes up (TLS, JIT, buffers) before the baseline.
    await echoVerified(portOf(ports, 'echo'), randomBytes(4 * MiB));
    await sleep(300);
    const base = { client: rssBytes(child.pid), proxy: rssBytes(proxy.child.pid) };

    // Windows: the proxy's receive window per stream is its initialWindow; the client's is the
    // multiplexer default (4 MiB). Kernel socket buffers on three loopback hops add a few MiB
    // that are not process memory. The fixed bound covers frames in flight, the WebSocket's
    // own buffers and allocator slack.
    const CLIENT_WINDOW = 4 * MiB;
    const FIXED = 48 * MiB;

    // Downstream: the target floods, the local reader never reads.
    const reader = await connectTcp(portOf(ports, 'flood'));
    reader.pause();
    const sent = await whenStable(() => flood.sent(), 1_500, 30_000);
    const down = { client: rssBytes(child.pid), proxy: rssBytes(proxy.child.pid), stats: await proxy.stats() };

    // Upstream: the local writer writes into a target that never reads, honouring backpressure.
    const writer = await connectTcp(portOf(ports, 'sink'));
    const chunk = Buffer.alloc(256 * 1024, 0xa5);
    let written = 0;
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (written < FLOOD_LIMIT) {
          written += chunk.length;
          if (!writer.write(chunk)) {
            const stalled = setTimeout(resolve, 1_500);
            writer.once('drain', () => {
              clearTimeout(stalled);
              pump();
            });
            return;
          }
        }
        resolve();
      };
      pump();
    });
    await sleep(300);
    const up = { client: rssBytes(child.pid), proxy: rssBytes(proxy.child.pid), stats: await proxy.stats() };
    t.diagnostic(
      `flood target pushed ${(sent / MiB).toFixed(1)} MiB before stalling; writer got ${(written / MiB).toFixed(1)} MiB in; ` +
        `client RSS ${(base.client / MiB).toFixed(0)} → ${(down.client / MiB).toFixed(0)} → ${(up.client / MiB).toFixed(0)} MiB; ` +
        `proxy RSS ${(base.proxy / MiB).toFixed(0)} → ${(down.proxy / MiB).toFixed(0)} → ${(up.proxy / MiB).toFixed(0)} MiB; ` +
        `proxy bufferedBytes ${down.stats.bufferedBytes} / ${up.stats.bufferedBytes}`,
    );

    assert.ok(sent < 64 * MiB, `the flood was not stopped by flow control: ${sent} bytes left the target`);
    assert.ok(written < 64 * MiB, `the writer was not stopped by flow control: ${written} bytes written`);
    assert.ok(down.stats.bufferedBytes <= WINDOW + CLIENT_WINDOW + MiB, `proxy buffers ${down.stats.bufferedBytes} bytes for a reader that stopped`);
    assert.ok(up.stats.bufferedBytes <= 2 * (WINDOW + CLIENT_WINDOW + MiB), `proxy buffers ${up.stats.bufferedBytes} bytes with a stalled target as well`);
    assert.ok(down.client - base.client <= CLIENT_WINDOW + FIXED, `client RSS grew by ${down.client - base.client} bytes`);
    assert.ok(down.proxy - base.proxy <= WINDOW + FIXED, `proxy RSS grew by ${down.proxy - base.proxy} bytes`);
    assert.ok(up.client - base.client <= 2 * (CLIENT_WINDOW + FIXED), `client RSS grew by ${up.client - base.client} bytes`);
    assert.ok(up.proxy - base.proxy <= 2 * (WINDOW + FIXED), `proxy RSS grew by ${up.proxy - base.proxy} bytes`);

    // Both stalled connections are alive (nothing was dropped to save memory), and the tunnel
    // still carries other traffic.
    assert.equal(reader.destroyed, false);
    assert.equal(writer.destroyed, false);
    assert.equal(await echoVerified(portOf(ports, 'echo'), randomBytes(MiB)), MiB);
    reader.destroy();
    writer.destroy();
    child.signal('SIGTERM');
    assert.equal((await child.wait(10_000)).code, 0, child.tail());
  });

  void test('bad inputs get a named error and a clean close while a live client keeps working', async () => {
    const MAX_STREAMS = 8;
    const target = owned(await startEchoTarget(), (x) => x.close());
    const proxy = await proxyFor([{ id: 'echo', target: `127.0.0.1:${target.port}` }], { limits: { maxStreams: MAX_STREAMS } });

    // The client that must not notice anything: one connection held open all along.
    const good = clientFor();
    await good.login(proxy, USER, PASSWORD);
    const live = await connect(good, ['echo']);
    const goodPort = portOf(live.ports, 'echo');
    const kept = await connectTcp(goodPort);
    kept.on('error', () => undefined);
    assert.equal(await roundTrip(kept, 'hello'), 'hello');
    const stillServing = async (after: string): Promise<void> => {
      assert.equal(await roundTrip(kept, `after ${after}`), `after ${after}`, `the live connection stopped after: ${after}`);
      assert.equal(await echoVerified(goodPort, randomBytes(64 * 1024)), 64 * 1024, `a new connection failed after: ${after}`);
      assert.equal(live.child.exit, undefined, `the live latch connect exited after: ${after}`);
    };

    // Wrong CA fingerprint: refused before any secret is sent; nothing stored anywhere.
    const service = `latch-e2e-${randomBytes(4).toString('hex')}`;
    const pinned = clientFor(service);
    const wrongCa = await pinned.run(['login', '--proxy', proxy.url, '--ca-fingerprint', `sha256:${randomBytes(32).toString('hex')}`, '--user', USER], `${PASSWORD}\n`);
    assert.equal(wrongCa.code, 1, wrongCa.stderr);
    assert.match(wrongCa.stderr, /^latch: LATCH_ERR_CA_MISMATCH: /m);
    assert.deepEqual(await keychainAccounts(service), []);
    assert.deepEqual(filesUnder(pinned.configDir), []);
    await stillServing('a wrong CA fingerprint');

    // Bad password.
    const bad = await pinned.run(['login', '--proxy', proxy.url, '--ca-fingerprint', proxy.fingerprint, '--user', USER], 'not the password\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^latch: LATCH_ERR_AUTH_REJECTED: /m);
    assert.deepEqual(await keychainAccounts(service), []);
    await stillServing('a bad password');

    // A reused enrollment code.
    const { link } = await proxy.enroll(USER);
    const first = clientFor(`latch-e2e-${randomBytes(4).toString('hex')}`);
    assert.equal((await first.run(['login', link])).code, 0);
    const second = clientFor(service);
    const reused = await second.run(['login', link]);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /^latch: LATCH_ERR_ENROLLMENT_INVALID: /m);
    assert.deepEqual(await keychainAccounts(service), []);
    await stillServing('a reused enrollment code');

    // An unknown resource id: named, and nothing listens.
    const unknown = await first.run(['connect', 'echo', 'no-such-resource', '--json']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^latch: LATCH_ERR_UNKNOWN_RESOURCE: /m);
    assert.equal(parseEvents(unknown.stdout).filter((e) => e.event === 'listening').length, 0);
    await stillServing('an unknown resource id');

    // An unknown client certificate: the client's keychain items swapped for a key and a
    // certificate from another CA; the real client presents them and the proxy refuses.
    const strangerService = `latch-e2e-${randomBytes(4).toString('hex')}`;
    const stranger = clientFor(strangerService);
    const strangerSession = await stranger.login(proxy, USER, PASSWORD);
    const foreign = new CertificateAuthority(createCa('Not this proxy'));
    const { keyPem, csrPem } = makeKeyAndCsr();
    const store = new KeyringCredentialStore({ service: strangerService });
    await store.set(`${strangerSession}:key`, keyPem);
    await store.set(`${strangerSession}:cert`, foreign.issueClientCertificate(csrPem, USER, new Date(Date.now() + 3_600_000)).certPem);
    const refused = await stranger.run(['connect', 'echo', '--json']);
    assert.notEqual(refused.code, 0);
    assert.equal(parseEvents(refused.stdout).filter((e) => e.event === 'listening').length, 0);
    assert.ok(
      proxy.child.stderr.split('\n').some((l) => l.includes('"auth.failed"') && l.includes(ErrorCode.CERT_UNKNOWN)),
      `the proxy named the refusal: ${proxy.child.stderr.slice(-2_000)}`,
    );
    await stillServing('an unknown client certificate');

    // Garbage bytes after the upgrade and an oversized frame, sent with a real session's own
    // credentials (read back from the keychain) over a raw WebSocket: the real client never
    // sends either.
    const rawSession = async (): Promise<WebSocket> => {
      const c = clientFor(`latch-e2e-${randomBytes(4).toString('hex')}`);
      const id = await c.login(proxy, USER, PASSWORD);
      const svc = String(c.env['LATCH_KEYCHAIN_SERVICE']);
      const [key, cert, token] = await Promise.all(['key', 'cert', 'token'].map((k) => keychainSecret(`${id}:${k}`, svc)));
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`wss://127.0.0.1:${proxy.port}${ApiPath.TUNNEL}`, [SUBPROTOCOL], {
          ca: proxy.caPem,
          cert,
          key,
          headers: { authorization: `Bearer ${token}` },
          perMessageDeflate: false,
          handshakeTimeout: 10_000,
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    };
    const closeOf = (ws: WebSocket): Promise<number> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the proxy did not close the offending tunnel within 10 s')), 10_000);
        ws.on('error', () => undefined);
        ws.once('close', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    const garbage = await rawSession();
    const garbageClosed = closeOf(garbage);
    garbage.send(Buffer.from('GET / HTTP/1.1\r\n\r\nnot a latch frame at all'));
    assert.equal(await garbageClosed, CloseCode.BAD_VERSION);
    await stillServing('garbage bytes after the upgrade');

    const big = await rawSession();
    const bigClosed = closeOf(big);
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt8(0x01, 0); // version
    header.writeUInt32BE(1, 4); // stream id
    header.writeUInt32BE(MiB, 8); // length: far above maxFrameSize (64 KiB)
    big.send(Buffer.concat([header, Buffer.alloc(MiB)]));
    const bigCode = await bigClosed;
    assert.ok(bigCode === CloseCode.FRAME_TOO_LARGE || bigCode === 1009, `close code ${bigCode}`);
    await stillServing('an oversized frame');
    const logged = proxy.child.stderr.split('\n').filter((l) => l.includes('"tunnel.error"'));
    assert.ok(logged.some((l) => l.includes(ErrorCode.BAD_VERSION)), logged.join('\n'));
    assert.ok(logged.some((l) => l.includes(ErrorCode.FRAME_TOO_LARGE)), logged.join('\n'));

    // A stream past the limit, through the real client: the extra connection is refused with
    // STREAM_LIMIT (reported by latch connect), the others and the session carry on.
    const held: net.Socket[] = [];
    // Streams of the connections above are released asynchronously: start from the kept one only.
    for (let attempt = 0; (await proxy.stats()).streams > 1; attempt++) {
      assert.ok(attempt < 50, `the proxy still counts ${(await proxy.stats()).streams} streams`);
      await sleep(100);
    }
    for (let i = held.length + 1; i < MAX_STREAMS; i++) {
      const s = await connectTcp(goodPort);
      s.on('error', () => undefined);
      assert.equal(await roundTrip(s, `held ${i}`), `held ${i}`);
      held.push(s);
    }
    // Refused right after the accept: on a loaded machine the reset can reach this side before
    // it has seen its own connect complete, and connect reports ECONNRESET (seen once in CI).
    // Either way the connection closes with no byte crossed, which is what is checked.
    const extra = net.connect({ host: '127.0.0.1', port: goodPort, noDelay: true });
    extra.on('error', () => undefined);
    extra.write('one too many');
    const extraClosed = await new Promise<string>((resolve, reject) => {
      let got = '';
      const timer = setTimeout(() => reject(new Error('the connection past the stream limit stayed open')), 10_000);
      extra.on('data', (d: Buffer) => (got += d.toString()));
      extra.once('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
    });
    assert.equal(extraClosed, '', 'no byte crossed on the refused stream');
    const limitEvent = await waitForEvent(live.child, (e) => e.event === 'connection.error', 10_000, 'connection.error');
    assert.equal(limitEvent['code'], ErrorCode.STREAM_LIMIT, JSON.stringify(limitEvent));
    for (const [i, s] of held.entries()) assert.equal(await roundTrip(s, `still ${i}`), `still ${i}`);
    for (const s of held) s.destroy();
    // Freed streams are usable again (their resets may take a moment to reach the proxy).
    for (let attempt = 0; ; attempt++) {
      try {
        await stillServing('a stream past the limit');
        break;
      } catch (err) {
        if (attempt >= 10) throw err;
        await sleep(200);
      }
    }
    kept.destroy();
    live.child.signal('SIGTERM');
    assert.equal((await live.child.wait(10_000)).code, 0, live.child.tail());

    // Checked last so that every other input above is still exercised when it fails: the person
    // at the client is told which error refused the certificate, not only that there was one.
    assert.match(`${refused.stderr}${refused.stdout}`, /LATCH_ERR_CERT_UNKNOWN/, 'latch connect names the refusal of an unknown certificate');
  });

  void test('an expired client certificate: the client ends on its own, the proxy refuses it with CERT_EXPIRED and serves a fresh sign-in', async () => {
    const target = owned(await startEchoTarget(), (x) => x.close());
    const proxy = await proxyFor([{ id: 'echo', target: `127.0.0.1:${target.port}` }], { session: { maxDuration: '3s' } });
    const service = `latch-e2e-${randomBytes(4).toString('hex')}`;
    const client = clientFor(service);
    const id = await client.login(proxy, USER, PASSWORD);
    // Kept aside before the client wipes them: the expired certificate presented as-is.
    const creds = await sessionSecrets(id, service);
    const validTo = Date.parse(new X509Certificate(creds.cert).validTo);
    assert.ok(validTo <= Date.now() + 3_000, `certificate valid to ${new Date(validTo).toISOString()}`);
    await sleep(Math.max(0, validTo - Date.now()) + 1_200);

    // The real client fails closed: past its own view of the deadline it ends and wipes.
    const r = await client.run(['connect', 'echo', '--json']);
    assert.equal(parseEvents(r.stdout).filter((e) => e.event === 'listening').length, 0);
    const ended = parseEvents(r.stdout).find((e) => e.event === 'ended');
    assert.equal(ended?.['reason'], 'absolute', r.stdout + r.stderr);
    assert.equal(r.code, 11);
    assert.deepEqual(await sessionItems(id, service), []);

    // The proxy names the expired certificate, for the API and for the tunnel upgrade.
    const api = await proxyRequest(proxy.port, proxy.caPem, { path: ApiPath.RESOURCES, creds });
    assert.equal(api.status, 401, api.text);
    assert.equal((api.body as { code?: string }).code, ErrorCode.CERT_EXPIRED);
    const upgrade = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${proxy.port}${ApiPath.TUNNEL}`, [SUBPROTOCOL], { ca: proxy.caPem, cert: creds.cert, key: creds.key, headers: { authorization: `Bearer ${creds.token}` }, handshakeTimeout: 10_000 });
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('an expired certificate opened a tunnel'));
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.once('error', reject);
    });
    assert.equal(upgrade, 401);

    // Another sign-in is served (its own session lives only 3 s too: check it at once).
    const other = clientFor(`latch-e2e-${randomBytes(4).toString('hex')}`);
    const otherId = await other.login(proxy, USER, PASSWORD);
    const status = await other.run(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { sessionId?: string }).sessionId, otherId);
  });

  void test('after login the secrets are in the Secret Service and in no file of the config dir; after logout they are gone', async () => {
    const target = owned(await startEchoTarget(), (x) => x.close());
    const proxy = await proxyFor([{ id: 'echo', target: `127.0.0.1:${target.port}` }]);
    const client = clientFor();
    const id = await client.login(proxy, USER, PASSWORD);
    assert.deepEqual(await sessionItems(id), [`${id}:cert`, `${id}:key`, `${id}:token`]);
    const secrets = await Promise.all(['key', 'cert', 'token'].map((k) => keychainSecret(`${id}:${k}`)));
    const [key, cert, token] = secrets;
    assert.match(key ?? '', /-----BEGIN PRIVATE KEY-----/);
    assert.match(cert ?? '', /-----BEGIN CERTIFICATE-----/);
    assert.ok((token ?? '').length >= 16);

    // Use the session (connect writes whatever it writes), then look at every file.
    const { child, ports } = await connect(client, ['echo']);
    assert.equal(await echoVerified(portOf(ports, 'echo'), randomBytes(256 * 1024)), 256 * 1024);
    child.signal('SIGTERM');
    assert.equal((await child.wait(10_000)).code, 0, child.tail());
    const needles = [...secrets.map((s) => s.trim()), ...[key, cert].map((pem) => (pem ?? '').split('\n')[3] ?? '')].filter((n) => n.length >= 16);
    assert.ok(needles.length >= 5);
    const files = filesUnder(client.configDir);
    assert.ok(files.length >= 1, 'the profile is written');
    for (const { path, content } of files) {
      const text = content.toString('utf8');
      for (const needle of needles) assert.ok(!text.includes(needle), `${path} contains a secret`);
      assert.doesNotMatch(text, /PRIVATE KEY/, path);
    }

    const out = await client.run(['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(await sessionItems(id), []);
    for (const { path, content } of filesUnder(client.configDir)) {
      for (const needle of needles) assert.ok(!content.toString('utf8').includes(needle), `${path} contains a secret after logout`);
    }
  });
});
