// ClientEngine with an injectable clock and a stand-in tunnel: every end path, idle reporting,
// warnings with Renew, reconnect and fail-closed timing, without waiting real minutes. The real
// proxy and processes are exercised in test/client.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import forge from 'node-forge';
import type { EngineSnapshot, EndedView, WarningView } from '../../common/engineState.ts';
import { ErrorCode, isLatchError, LatchError } from '../../common/errors.ts';
import type { ClientMessage, EffectivePolicy, ServerMessage, SessionStateMessage } from '../../common/session.ts';
import type { MuxStream } from '../../tunnel/MuxStream.ts';
import { ClientEngine } from './ClientEngine.ts';
import type { CredentialStore } from './CredentialStore.ts';
import type { IdleSample, IdleSource } from './idle/IdleSource.ts';
import { EndedSessionError } from './networkError.ts';
import { NotificationHandle } from './notify/Notifier.ts';
import type { NotificationRequest, Notifier } from './notify/Notifier.ts';
import { ProfileStore } from './Profile.ts';
import { caFingerprintOf } from './ProxyClient.ts';
import { ManualClock } from './session/Clock.ts';
import type { TunnelEnd } from './TunnelClient.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

class MemoryStore implements CredentialStore {
  readonly items = new Map<string, string>();
  assertAvailable(): Promise<void> {
    return Promise.resolve();
  }
  set(account: string, secret: string): Promise<void> {
    this.items.set(account, secret);
    return Promise.resolve();
  }
  get(account: string): Promise<string | null> {
    return Promise.resolve(this.items.get(account) ?? null);
  }
  delete(account: string): Promise<boolean> {
    return Promise.resolve(this.items.delete(account));
  }
  list(): Promise<string[]> {
    return Promise.resolve([...this.items.keys()]);
  }
}

/** OS idle time driven by the test clock: input() is a key press. */
class FakeIdle implements IdleSource {
  readonly kind = 'fake';
  readonly #clock: ManualClock;
  #lastInput: number;
  locked = false;
  constructor(clock: ManualClock) {
    this.#clock = clock;
    this.#lastInput = clock.monotonicNow();
  }
  input(): void {
    this.#lastInput = this.#clock.monotonicNow();
  }
  sample(): Promise<IdleSample> {
    return Promise.resolve({ idleMs: this.#clock.monotonicNow() - this.#lastInput, locked: this.locked });
  }
  close(): void {}
}

class FakeNotifier implements Notifier {
  readonly kind = 'fake';
  readonly supportsActions = true;
  readonly shown: NotificationHandle[] = [];
  show(request: NotificationRequest): Promise<NotificationHandle> {
    // Same id replaces the earlier one in place, as the real notifiers do.
    for (const h of this.shown) if (h.request.id === request.id) h.markClosed('closed');
    const handle = new NotificationHandle(request, () => Promise.resolve());
    this.shown.push(handle);
    return Promise.resolve(handle);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface TunnelEvents {
  message: [message: ServerMessage];
  connectionError: [resourceId: string, error: LatchError];
  end: [end: TunnelEnd];
}

/** The proxy's side of the session, as the engine sees it through a TunnelClient. */
class FakeTunnel extends EventEmitter<TunnelEvents> {
  readonly sent: ClientMessage[] = [];
  closed = false;
  send(message: ClientMessage): void {
    if (!this.closed) this.sent.push(message);
  }
  openStream(_resourceId: string): MuxStream {
    throw new LatchError(ErrorCode.DIAL_FAILED, 'the stand-in tunnel carries no streams');
  }
  close(code = 1000): Promise<void> {
    this.#end(code, true);
    return Promise.resolve();
  }
  /** The connection dropped (or the proxy closed it with `code`). */
  drop(code: number): void {
    this.#end(code, false);
  }
  server(message: ServerMessage): void {
    this.emit('message', message);
  }
  #end(closeCode: number, local: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('end', { closeCode, reason: undefined, error: undefined, message: 'closed', local });
  }
}

const policy: EffectivePolicy = { idleTimeoutMs: 15 * MIN, maxDurationMs: 8 * HOUR, warnBeforeMs: 2 * MIN, maxRenewals: 3, activity: 'input', onLock: 'idle', groups: ['staging'] };

function state(idleRemainingMs: number, absoluteRemainingMs = 8 * HOUR, renewalsLeft = 3): SessionStateMessage {
  return { type: 'session.state', sessionId: 's1', idleRemainingMs, absoluteRemainingMs, renewalsLeft, policy };
}

let caCache: { pem: string; fingerprint: string } | undefined;
function ca(): { pem: string; fingerprint: string } {
  if (caCache) return caCache;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'Test CA' }]);
  cert.setIssuer([{ name: 'commonName', value: 'Test CA' }]);
  cert.sign(key, forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  caCache = { pem, fingerprint: caFingerprintOf(pem) };
  return caCache;
}

/** A loopback port nothing listens on: HTTPS calls to the "proxy" fail at once (ECONNREFUSED). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const a = probe.address() as net.AddressInfo;
      probe.close(() => resolve(a.port));
    });
  });
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Polls (real time, bounded) for file and socket work the manual clock does not drive. */
async function until(probe: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup() {
  const clock = new ManualClock();
  const dir = await mkdtemp(join(tmpdir(), 'latch-engine-'));
  const profiles = new ProfileStore(dir);
  const store = new MemoryStore();
  for (const kind of ['key', 'cert', 'token']) await store.set(`s1:${kind}`, `${kind}-secret`);
  const { pem, fingerprint } = ca();
  await profiles.write({
    version: 1,
    proxyUrl: `https://127.0.0.1:${await closedPort()}`,
    caFingerprint: fingerprint,
    caPem: pem,
    user: 'alice',
    session: { id: 's1', user: 'alice', expiresAt: clock.wallNow() + 8 * HOUR, resources: [{ id: 'echo', group: 'staging' }], wipeReceipt: 'receipt-1' },
  });
  const idle = new FakeIdle(clock);
  const notifier = new FakeNotifier();
  const tunnels: FakeTunnel[] = [];
  let refusal: LatchError | null = null;
  let attempts = 0;
  const engine = new ClientEngine({
    store,
    profiles,
    idle,
    notifier,
    clock,
    wiper: { initialBackoffMs: 1 },
    requestTimeoutMs: 2_000,
    confirmTimeoutMs: 2_000,
    openTunnel: () => {
      attempts++;
      if (refusal !== null) return Promise.reject(refusal);
      const t = new FakeTunnel();
      tunnels.push(t);
      return Promise.resolve(t);
    },
  });
  const seen = { changed: [] as EngineSnapshot[], warning: [] as WarningView[], renewed: [] as Array<{ renewalsLeft: number }>, ended: [] as EndedView[] };
  engine.on('changed', (s) => seen.changed.push(s));
  engine.on('warning', (w) => seen.warning.push(w));
  engine.on('renewed', (r) => seen.renewed.push(r));
  engine.on('ended', (e) => seen.ended.push(e));
  cleanups.push(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });
  const tunnel = (): FakeTunnel => {
    const t = tunnels.at(-1);
    assert.ok(t, 'a tunnel was opened');
    return t;
  };
  const tick = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await flush();
  };
  const activity = (): Array<{ idleMs: number; locked: boolean }> =>
    tunnels.flatMap((t) => t.sent.filter((m) => m.type === 'activity').map((m) => ({ idleMs: m.idleMs, locked: m.locked })));
  return {
    clock,
    profiles,
    store,
    idle,
    notifier,
    engine,
    seen,
    tunnel,
    tick,
    activity,
    attempts: () => attempts,
    refuse: (err: LatchError | null) => {
      refusal = err;
    },
  };
}

/** Signed in, tunnel up, first state received. */
async function live() {
  const s = await setup();
  await s.engine.start();
  await s.tick(0);
  s.tunnel().server(state(15 * MIN));
  await flush();
  return s;
}

void test('start() restores the profile, reconnects and renders the proxy state', async () => {
  const s = await setup();
  await s.engine.start();
  assert.equal(s.engine.snapshot().phase, 'connecting');
  assert.equal(s.engine.snapshot().session, null, 'no session view before the first state');
  s.tunnel().server(state(15 * MIN));
  const snap = s.engine.snapshot();
  assert.equal(snap.phase, 'active');
  assert.equal(snap.session?.sessionId, 's1');
  assert.equal(snap.session?.user, 'alice');
  assert.equal(snap.session?.idleRemainingMs, 15 * MIN);
  assert.deepEqual(snap.session?.policy.groups, ['staging']);
  assert.deepEqual(snap.resources, [{ id: 'echo', group: 'staging' }]);
  assert.equal(snap.lastError, null);
});

void test('activity goes out at once, then every 2 s, and at once when input resumes after idle', async () => {
  const s = await live();
  assert.deepEqual(s.activity(), [{ idleMs: 0, locked: false }]);
  await s.tick(1_000);
  assert.equal(s.activity().length, 1, 'not due yet');
  await s.tick(1_000);
  assert.deepEqual(s.activity().at(-1), { idleMs: 2_000, locked: false });
  await s.tick(500);
  s.idle.input();
  await s.tick(500);
  // Input 500 ms ago, one second after the last report: sent without waiting for the interval.
  assert.deepEqual(s.activity().at(-1), { idleMs: 500, locked: false });
  assert.equal(s.activity().length, 3);
  s.engine.systemEvent('lock');
  await s.tick(0);
  assert.deepEqual(s.activity().at(-1), { idleMs: 500, locked: true }, 'a lock is reported at once');
});

void test('a warning shows a notification with Renew; its action renews; fresh state closes it', async () => {
  const s = await live();
  await s.tick(13 * MIN);
  assert.deepEqual(s.seen.warning, [{ kind: 'idle', remainingMs: 2 * MIN, canRenew: true }]);
  assert.equal(s.engine.snapshot().phase, 'warning');
  assert.equal(s.engine.snapshot().warning?.kind, 'idle');
  const notice = s.notifier.shown.at(-1);
  assert.ok(notice);
  assert.deepEqual(notice.request.actions, [{ id: 'renew', label: 'Renew' }]);
  assert.match(notice.request.title, /ends in 2m 00s/);

  notice.invoke('renew');
  await flush();
  assert.ok(s.tunnel().sent.some((m) => m.type === 'renew'), 'the renew went to the proxy');
  s.tunnel().server(state(15 * MIN, 8 * HOUR - 13 * MIN, 2));
  await flush();
  assert.deepEqual(s.seen.renewed.map((r) => r.renewalsLeft), [2]);
  assert.equal(notice.closed, true, 'the warning is gone once renewed');
  assert.equal(s.engine.snapshot().warning, null);
  assert.equal(s.engine.snapshot().phase, 'active');
});

void test('renew() resolves on the fresh state and rejects with RENEWAL_LIMIT when the proxy refuses', async () => {
  const s = await live();
  const ok = s.engine.renew();
  s.tunnel().server(state(15 * MIN, 8 * HOUR, 2));
  await ok;
  const refused = s.engine.renew();
  s.tunnel().server({ type: 'request.error', request: 'renew', error: { code: ErrorCode.RENEWAL_LIMIT, message: 'no renewals left' } });
  await assert.rejects(refused, (err: unknown) => isLatchError(err, ErrorCode.RENEWAL_LIMIT));
  assert.equal(s.engine.snapshot().lastError?.code, ErrorCode.RENEWAL_LIMIT);
});

void test('session.ended from the proxy: listeners closed, keychain wiped, profile cleared, the reason shown', async () => {
  const s = await live();
  const info = await s.engine.connect('echo');
  assert.equal(info.host, '127.0.0.1');
  assert.equal(s.engine.snapshot().tunnels.length, 1);
  s.tunnel().server({ type: 'session.ended', reason: 'revoked', message: 'ended by an administrator' });
  await until(() => s.seen.ended.length === 1, 'ended');
  assert.deepEqual(s.seen.ended[0], { reason: 'revoked', message: 'Signed out by an administrator', local: false, wiped: true });
  assert.deepEqual(await s.store.list(), []);
  const snap = s.engine.snapshot();
  assert.equal(snap.phase, 'ended');
  assert.deepEqual(snap.tunnels, []);
  assert.equal(snap.session, null);
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: info.port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    }),
    'the listener is closed',
  );
  const profile = await s.profiles.read();
  assert.equal(profile?.session, undefined);
  // The proxy is not reachable here, so the confirmation waits in the profile with its receipt.
  await until(async () => (await s.profiles.read())?.pendingWipes?.length === 1, 'pending wipe');
  assert.deepEqual((await s.profiles.read())?.pendingWipes, [{ sessionId: 's1', receipt: 'receipt-1', items: 3 }]);
  await until(() => s.notifier.shown.at(-1)?.request.title === 'Signed out by an administrator', 'end notification');
  assert.match(s.notifier.shown.at(-1)?.request.body ?? '', /Sign in again/);
});

void test('tunnel lost: offline, bounded reconnects, and the idle deadline still ends the session here', async () => {
  const s = await live();
  s.refuse(new LatchError(ErrorCode.PROXY_UNREACHABLE, 'cannot reach the proxy'));
  s.tunnel().drop(1006);
  await flush();
  assert.equal(s.engine.snapshot().phase, 'offline');
  for (let t = 0; t < 15 * MIN && s.seen.ended.length === 0; t += 1_000) await s.tick(1_000);
  await until(() => s.seen.ended.length === 1, 'ended');
  assert.equal(s.seen.ended[0]?.reason, 'idle');
  assert.equal(s.seen.ended[0]?.local, true);
  assert.equal(s.seen.ended[0]?.wiped, true);
  assert.deepEqual(await s.store.list(), []);
  // Backoff doubles to 5 s: a few quick tries, then at most one every 5 s.
  assert.ok(s.attempts() > 5 && s.attempts() < (15 * MIN) / 5_000 + 10, `attempts: ${s.attempts()}`);
});

void test('a suspend across the deadline ends the session at resume, before any network contact', async () => {
  const s = await live();
  s.clock.suspend(20 * MIN);
  s.engine.systemEvent('resume');
  await until(() => s.seen.ended.length === 1, 'ended');
  assert.equal(s.seen.ended[0]?.reason, 'idle');
  assert.equal(s.seen.ended[0]?.local, true);
  assert.deepEqual(await s.store.list(), []);
});

void test('a reconnect refused because the session ended there ends it here with the same reason', async () => {
  const s = await live();
  s.refuse(new EndedSessionError(ErrorCode.SESSION_ENDED, 'the session has ended', 'absolute'));
  s.tunnel().drop(1006);
  await s.tick(1_000);
  await until(() => s.seen.ended.length === 1, 'ended');
  assert.equal(s.seen.ended[0]?.reason, 'absolute');
  assert.equal(s.seen.ended[0]?.local, false);
  assert.deepEqual(await s.store.list(), []);
});

void test('close code 4005 (a newer tunnel of the same session) ends this host without wiping', async () => {
  const s = await live();
  s.tunnel().drop(4005);
  await until(() => s.seen.ended.length === 1, 'ended');
  assert.equal(s.seen.ended[0]?.reason, 'replaced');
  assert.equal(s.seen.ended[0]?.wiped, false);
  assert.match(s.seen.ended[0]?.message ?? '', /newer connection/);
  assert.equal((await s.store.list()).length, 3, 'the session lives on elsewhere: its credentials stay');
  assert.equal((await s.profiles.read())?.session?.id, 's1');
});

void test('a proxy session.ended {replaced} is a session end: wiped', async () => {
  const s = await live();
  s.tunnel().server({ type: 'session.ended', reason: 'replaced', message: 'signed in on another device' });
  await until(() => s.seen.ended.length === 1, 'ended');
  assert.equal(s.seen.ended[0]?.wiped, true);
  assert.deepEqual(await s.store.list(), []);
});

void test('connect: unknown resources are refused; while offline a connection is reset and reported', async () => {
  const s = await live();
  await assert.rejects(s.engine.connect('nope'), (err: unknown) => isLatchError(err, ErrorCode.UNKNOWN_RESOURCE));
  s.refuse(new LatchError(ErrorCode.PROXY_UNREACHABLE, 'down'));
  s.tunnel().drop(1006);
  await flush();
  const info = await s.engine.connect('echo');
  const errors: string[] = [];
  s.engine.on('connectionError', (e) => errors.push(e.error.code));
  await new Promise<void>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: info.port });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
  await until(() => errors.length === 1, 'connection error');
  assert.deepEqual(errors, [ErrorCode.CONNECTION_CLOSED]);
  await s.engine.disconnect('echo');
  assert.deepEqual(s.engine.snapshot().tunnels, []);
});

void test('connection counts move in bursts: published at most every 100 ms, not once per connection', async () => {
  const s = await live();
  const info = await s.engine.connect('echo');
  await flush();
  const before = s.seen.changed.length;
  const burst = 40;
  // The stand-in tunnel carries no streams: each connection is accepted, counted, and reset.
  await Promise.all(
    Array.from(
      { length: burst },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port: info.port });
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
        }),
    ),
  );
  await until(() => s.engine.snapshot().tunnels[0]?.connections === 0, 'every connection closed');
  // The engine's clock is the test's: nothing is published until it moves.
  const published = s.seen.changed.length - before;
  assert.ok(published <= 1, `${published} snapshots before the clock moved`);
  await s.tick(100);
  assert.equal(s.seen.changed.length - before, published + 1, 'one snapshot for the whole burst');
  assert.equal(s.seen.changed.at(-1)?.tunnels[0]?.connections, 0);
  await s.engine.disconnect('echo');
});

void test('signOut() over the tunnel sends logout and resolves once the end path ran', async () => {
  const s = await live();
  const out = s.engine.signOut();
  await flush();
  assert.ok(s.tunnel().sent.some((m) => m.type === 'logout'));
  s.tunnel().server({ type: 'session.ended', reason: 'logout', message: '' });
  await out;
  assert.equal(s.seen.ended[0]?.reason, 'logout');
  assert.equal(s.seen.ended[0]?.message, 'Signed out');
  assert.deepEqual(await s.store.list(), []);
  assert.equal(s.engine.snapshot().phase, 'ended');
});

void test('a short idle timeout gets eight reports per timeout', async () => {
  const s = await setup();
  await s.engine.start();
  await s.tick(0);
  // (The stand-in proxy sends no fresh state, so the deadline it names must outlast the test.)
  s.tunnel().server({ ...state(60_000), policy: { ...policy, idleTimeoutMs: 4_000, warnBeforeMs: 1_000 } });
  await flush();
  // The reading already armed keeps the old 1 s pace; from then on the short policy's applies.
  await s.tick(1_000);
  const before = s.activity().length;
  for (let i = 0; i < 6; i++) await s.tick(500);
  assert.equal(s.activity().length - before, 6, 'a report every 500 ms under a 4 s idle timeout');
});
