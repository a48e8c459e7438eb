// The terminal client end to end, with real processes: `latch-proxy init/user add/enroll/serve`,
// `latch login/status/connect/logout` as child processes, the real Secret Service (gnome-keyring
// on the private bus `npm test` starts), checked with `secret-tool`, and a TCP echo target.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { ErrorCode, isLatchError } from '../common/errors.ts';
import { KeyringCredentialStore } from '../main/core/KeyringCredentialStore.ts';
import { ProfileStore } from '../main/core/Profile.ts';
import { isSessionGone, ProxyClient } from '../main/core/ProxyClient.ts';
import { TunnelClient } from '../main/core/TunnelClient.ts';
import type { TunnelEnd } from '../main/core/TunnelClient.ts';
import { selfSignedCert } from './support/selfSignedCert.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = process.execPath;
const LATCH = join(ROOT, 'bin', 'latch.js');
const PROXY = join(ROOT, 'bin', 'latch-proxy.js');
const PASSWORD = 'correct horse battery';
const STEP_TIMEOUT_MS = 30_000;
const execFileP = promisify(execFile);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs a command to completion (bounded), feeding `input` on stdin. */
function runProcess(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish within ${STEP_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, STEP_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Everything each tracked child has printed on stdout so far. */
const printed = new WeakMap<ChildProcess, { text: string }>();

/** Starts recording a child's stdout, so a wait never misses what arrived before it began. */
/** A port N such that N and N+1 were both free a moment ago (bounded number of tries). */
async function freePortPair(): Promise<number> {
  const listenOn = (port: number): Promise<net.Server | null> =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  const close = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await listenOn(0);
    if (first === null) continue;
    const base = portOf(first);
    const second = base < 65535 ? await listenOn(base + 1) : null;
    await close(first);
    if (second !== null) {
      await close(second);
      return base;
    }
  }
  throw new Error('no two adjacent free loopback ports in 20 tries');
}

/** SIGKILLs every child still running, except `keep` (the proxy between tests). */
function killChildren(keep?: ChildProcess): void {
  for (const child of children) {
    if (child !== keep && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** End of a describe block: every child, the echo server, the work folder. */
async function teardown(echo: net.Server | undefined, work: string | undefined): Promise<void> {
  killChildren();
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  if (work) await rm(work, { recursive: true, force: true });
}

function track(child: ChildProcess): ChildProcess {
  const record = { text: '' };
  printed.set(child, record);
  child.stdout?.on('data', (c: Buffer) => (record.text += c.toString()));
  children.add(child);
  return child;
}

/** Waits (bounded) until a tracked child's stdout matches `pattern`; resolves with the match. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<RegExpExecArray> {
  const record = printed.get(child);
  if (record === undefined) throw new Error('waitForLine needs a tracked child');
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = pattern.exec(record.text);
      if (m) {
        cleanup();
        resolve(m);
      }
      return m !== null;
    };
    const onData = (): void => {
      // Runs after track()'s listener (registered first), so the text is current.
      check();
    };
    const onExit = (code: number | null): void => {
      if (check()) return;
      cleanup();
      reject(new Error(`${what} exited (${code}) before printing ${pattern}; output: ${record.text}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not print ${pattern} within ${timeoutMs} ms; output: ${record.text}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    check();
  });
}

function exitOf(child: ChildProcess, timeoutMs = STEP_TIMEOUT_MS): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Secret Service items of a service (`latch` by default), as secret-tool (not our binding) sees them. */
async function keychainAccounts(service = 'latch'): Promise<string[]> {
  const { stdout, stderr } = await execFileP('secret-tool', ['search', '--all', 'service', service], { timeout: 10_000 });
  return [...`${stdout}\n${stderr}`.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1] ?? '').sort();
}

async function keychainSecret(account: string): Promise<string> {
  const { stdout } = await execFileP('secret-tool', ['lookup', 'service', 'latch', 'username', account], { timeout: 10_000 });
  return stdout;
}

/** Every file under `dir`, recursively, with its content. */
async function filesUnder(dir: string): Promise<Array<{ path: string; content: Buffer }>> {
  const out: Array<{ path: string; content: Buffer }> = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.push({ path, content: await readFile(path) });
  }
  return out;
}

/** A TCP echo server on 127.0.0.1: the resource behind the tunnel. */
async function startEcho(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.pipe(socket);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function portOf(server: net.Server): number {
  const a = server.address();
  assert.ok(a !== null && typeof a === 'object');
  return a.port;
}

/** Sends `payload` through 127.0.0.1:port and resolves with what comes back (bounded). */
function echoThrough(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`echo through port ${port} got ${size}/${payload.length} bytes in time`));
    }, STEP_TIMEOUT_MS);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= payload.length) {
        clearTimeout(timer);
        socket.end();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(payload);
  });
}

/** A loopback port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = portOf(probe);
      probe.close(() => resolve(port));
    });
  });
}

/** A self-signed CA that is not the proxy's. */
function otherCaPem(): string {
  return selfSignedCert().cert;
}

void describe('latch terminal client against a real proxy', { timeout: 180_000 }, () => {
  let work: string;
  let configFile: string;
  let proxy: ChildProcess | undefined;
  let echo: net.Server;
  let proxyUrl: string;
  let fingerprint: string;
  let clientEnv: NodeJS.ProcessEnv;
  let configDir: string;

  const latch = (args: string[], input?: string, env: NodeJS.ProcessEnv = clientEnv): Promise<Result> =>
    runProcess([LATCH, ...args], input === undefined ? { env } : { env, input });

  before(async () => {
    assert.ok(
      process.env['DBUS_SESSION_BUS_ADDRESS'],
      'DBUS_SESSION_BUS_ADDRESS is not set: this suite needs the private Secret Service that `npm test` starts (scripts/desktop-env.mjs)',
    );
    work = await mkdtemp(join(tmpdir(), 'latch-client-e2e-'));
    echo = await startEcho();
    const init = await runProcess([PROXY, 'init', join(work, 'proxy'), '--listen', '127.0.0.1:0']);
    assert.equal(init.code, 0, `latch-proxy init failed: ${init.stderr}`);
    configFile = join(work, 'proxy', 'latch-proxy.yaml');
    const doc = parseDocument(await readFile(configFile, 'utf8'));
    doc.set('groups', { staging: { idleTimeout: '1h' } });
    doc.set('resources', [
      { id: 'echo', target: `127.0.0.1:${portOf(echo)}`, group: 'staging' },
      { id: 'other', target: `127.0.0.1:${portOf(echo)}`, group: 'staging' },
      { id: 'dead', target: `127.0.0.1:${await closedPort()}`, group: 'staging' },
    ]);
    await writeFile(configFile, doc.toString());
    const add = await runProcess([PROXY, 'user', 'add', 'alice', '--config', configFile], { input: `${PASSWORD}\n` });
    assert.equal(add.code, 0, `latch-proxy user add failed: ${add.stderr}`);
    proxy = track(spawn(NODE, [PROXY, 'serve', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    proxy.stderr?.resume();
    const [, url, fp] = await waitForLine(proxy, /listening on (https:\/\/\S+)\n[\s\S]*?(sha256:[0-9a-f]{64})/, 'latch-proxy serve');
    proxyUrl = url ?? '';
    fingerprint = fp ?? '';
    // Enrollment links carry the proxy's public URL; with an ephemeral port it is known only now.
    const served = parseDocument(await readFile(configFile, 'utf8'));
    served.set('publicUrl', proxyUrl);
    await writeFile(configFile, served.toString());
    configDir = join(work, 'client-config');
    clientEnv = { ...process.env, LATCH_CONFIG_DIR: configDir };
  });

  // A failed test must not leave its `latch connect` running into the next one.
  afterEach(() => killChildren(proxy));
  after(() => teardown(echo, work));

  void test('a wrong CA fingerprint is CA_MISMATCH and nothing is stored', async () => {
    const wrong = `sha256:${randomBytes(32).toString('hex')}`;
    // A keychain service of its own, so "nothing stored" cannot be confused by other suites.
    const service = `latch-e2e-${randomBytes(4).toString('hex')}`;
    const r = await latch(['login', '--proxy', proxyUrl, '--ca-fingerprint', wrong, '--user', 'alice'], `${PASSWORD}\n`, {
      ...clientEnv,
      LATCH_KEYCHAIN_SERVICE: service,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^latch: LATCH_ERR_CA_MISMATCH: /m);
    assert.deepEqual(await filesUnder(configDir), []);
    assert.deepEqual(await keychainAccounts(service), []);
  });

  void test('a bad password is AUTH_REJECTED', async () => {
    const r = await latch(['login', '--proxy', proxyUrl, '--ca-fingerprint', fingerprint, '--user', 'alice'], 'wrong password\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^latch: LATCH_ERR_AUTH_REJECTED: /m);
    assert.deepEqual(await filesUnder(configDir), []);
  });

  void test('without a keychain, login is KEYCHAIN_UNAVAILABLE and writes nothing anywhere', async () => {
    const service = `latch-e2e-${randomBytes(4).toString('hex')}`;
    const env: NodeJS.ProcessEnv = { ...clientEnv, LATCH_CONFIG_DIR: join(work, 'no-keychain'), LATCH_KEYCHAIN_SERVICE: service };
    delete env['DBUS_SESSION_BUS_ADDRESS'];
    const r = await latch(['login', '--proxy', proxyUrl, '--ca-fingerprint', fingerprint, '--user', 'alice'], `${PASSWORD}\n`, env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^latch: LATCH_ERR_KEYCHAIN_UNAVAILABLE: .*never stores secrets in files/m);
    assert.deepEqual(await filesUnder(join(work, 'no-keychain')), []);
    assert.deepEqual(await keychainAccounts(service), []);
  });

  let sessionId = '';

  void test('login with a password: secrets in the Secret Service, none in any file of the config dir', async () => {
    const r = await latch(['login', '--proxy', proxyUrl, '--ca-fingerprint', fingerprint, '--user', 'alice'], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Signed in to https:\/\/127\.0\.0\.1:\d+ as alice/);
    assert.match(r.stdout, /expires in \d+h/);
    assert.match(r.stdout, /^ {2}echo +staging$/m);
    sessionId = /Session (\S+) expires/.exec(r.stdout)?.[1] ?? '';
    assert.ok(sessionId !== '', r.stdout);

    const mine = (await keychainAccounts()).filter((a) => a.startsWith(`${sessionId}:`));
    assert.deepEqual(mine, [`${sessionId}:cert`, `${sessionId}:key`, `${sessionId}:token`]);
    const key = await keychainSecret(`${sessionId}:key`);
    const cert = await keychainSecret(`${sessionId}:cert`);
    const token = await keychainSecret(`${sessionId}:token`);
    assert.match(key, /-----BEGIN PRIVATE KEY-----/);
    assert.match(cert, /-----BEGIN CERTIFICATE-----/);
    assert.ok(token.length >= 16);

    const files = await filesUnder(configDir);
    assert.deepEqual(files.map((f) => f.path), [join(configDir, 'profile.json')]);
    assert.equal((await stat(join(configDir, 'profile.json'))).mode & 0o777, 0o600);
    // Each secret, whole and by a distinctive inner line, is absent from every file.
    const needles = [key.trim(), cert.trim(), token.trim(), ...[key, cert].map((pem) => pem.split('\n')[3] ?? '')].filter((n) => n.length >= 16);
    assert.ok(needles.length >= 5);
    for (const { path, content } of files) {
      const text = content.toString('utf8');
      for (const needle of needles) assert.ok(!text.includes(needle), `${path} contains a secret`);
      assert.doesNotMatch(text, /PRIVATE KEY/);
    }
  });

  void test('status --json reports the session', async () => {
    const r = await latch(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(s['signedIn'], true);
    assert.equal(s['user'], 'alice');
    assert.equal(s['proxy'], proxyUrl);
    assert.equal(s['sessionId'], sessionId);
    assert.equal(s['credentials'], 'present');
    assert.ok(typeof s['expiresInMs'] === 'number' && s['expiresInMs'] > 3_600_000);
    assert.deepEqual((s['resources'] as Array<{ id: string }>).map((x) => x.id).sort(), ['dead', 'echo', 'other']);
  });

  void test('connect to an unknown resource is a named error before anything listens', async () => {
    const r = await latch(['connect', 'echo', 'nope', '--json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^latch: LATCH_ERR_UNKNOWN_RESOURCE: unknown resource "nope"/m);
    assert.doesNotMatch(r.stdout, /listening/);
  });

  void test('connect carries bytes to the echo resource and closes cleanly on SIGTERM', async () => {
    const child = track(spawn(NODE, [LATCH, 'connect', 'echo', 'other', '--json'], { cwd: ROOT, env: clientEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines = await waitForLine(child, /(\{"event":"listening".*\}\n\{"event":"listening".*\})\n/, 'latch connect');
    const events = (lines[1] ?? '').split('\n').map((l) => JSON.parse(l) as { event: string; resource: string; host: string; port: number });
    assert.deepEqual(events.map((e) => [e.event, e.resource, e.host]), [
      ['listening', 'echo', '127.0.0.1'],
      ['listening', 'other', '127.0.0.1'],
    ]);
    const [echoPort, otherPort] = events.map((e) => e.port);
    assert.ok(echoPort !== undefined && otherPort !== undefined && echoPort !== otherPort);
    const payload = randomBytes(512 * 1024);
    const [back1, back2] = await Promise.all([echoThrough(echoPort, payload), echoThrough(otherPort, payload.subarray(0, 4096))]);
    assert.ok(back1.equals(payload), 'every byte came back through the tunnel');
    assert.ok(back2.equals(payload.subarray(0, 4096)));
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0, stderr);
    // The listener is gone with the process.
    await assert.rejects(echoThrough(echoPort, Buffer.from('x')));
  });

  void test('--port N numbers the listeners N, N+1', async () => {
    const base = await freePortPair();
    const child = track(spawn(NODE, [LATCH, 'connect', 'echo', 'other', '--port', String(base)], { cwd: ROOT, env: clientEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const m = await waitForLine(child, /echo {2}127\.0\.0\.1:(\d+)\nother {2}127\.0\.0\.1:(\d+)\n/, 'latch connect --port').catch((err: Error) => {
      throw new Error(`${err.message}\nstderr: ${stderr}`);
    });
    assert.deepEqual([Number(m[1]), Number(m[2])], [base, base + 1]);
    const back = await echoThrough(base + 1, Buffer.from('ping'));
    assert.equal(back.toString(), 'ping');
    child.kill('SIGINT');
    assert.equal(await exitOf(child), 0);
  });

  void test('logout while connected: the proxy ends the tunnel, connect says why, secrets are gone', async () => {
    const child = track(spawn(NODE, [LATCH, 'connect', 'echo', '--json'], { cwd: ROOT, env: clientEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    await waitForLine(child, /"event":"listening"/, 'latch connect');
    const ended = waitForLine(child, /(\{"event":"ended".*\})\n/, 'latch connect');
    const r = await latch(['logout']);
    assert.equal(r.code, 0, r.stderr);
    // The connect process wipes too when the proxy ends its tunnel: between them, every item goes.
    assert.match(r.stdout, new RegExp(`Signed out: session ${sessionId} ended at the proxy; \\d keychain items? wiped`));
    const end = JSON.parse((await ended)[1] ?? '') as { reason: string; message: string };
    assert.equal(end.reason, 'logout');
    assert.equal(end.message, 'Signed out');
    assert.equal(await exitOf(child), 13, 'exit code for a logged-out session');

    assert.deepEqual((await keychainAccounts()).filter((a) => a.startsWith(`${sessionId}:`)), []);
    const s = JSON.parse((await latch(['status', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(s['signedIn'], false);
    assert.equal(s['sessionId'], null);
    const again = await latch(['connect', 'echo']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /LATCH_ERR_NOT_SIGNED_IN/);
  });

  void test('login with an enrollment link, then logout leaves nothing in the keychain', async () => {
    const enroll = await runProcess([PROXY, 'enroll', 'alice', '--config', configFile]);
    assert.equal(enroll.code, 0, enroll.stderr);
    const link = /(latch:\/\/enroll\?\S+)/.exec(enroll.stdout)?.[1];
    assert.ok(link, enroll.stdout);
    const r = await latch(['login', link, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const signedIn = JSON.parse(r.stdout) as { user: string; sessionId: string };
    assert.equal(signedIn.user, 'alice');
    assert.equal((await keychainAccounts()).filter((a) => a.startsWith(`${signedIn.sessionId}:`)).length, 3);
    // The code is single use.
    const reuse = await latch(['login', link]);
    assert.equal(reuse.code, 1);
    assert.match(reuse.stderr, /LATCH_ERR_ENROLLMENT_INVALID/);
    assert.equal((await latch(['logout'])).code, 0);
    assert.deepEqual((await keychainAccounts()).filter((a) => a.startsWith(`${signedIn.sessionId}:`)), []);
  });

  void test('core: tunnel end reasons, refused upgrades and per-connection errors are named', async () => {
    const store = new KeyringCredentialStore({ service: `latch-test-${randomBytes(4).toString('hex')}` });
    const profiles = new ProfileStore(join(work, 'core-config'));
    const client = new ProxyClient({ proxyUrl, caFingerprint: fingerprint, store, profiles });
    const profile = await client.login({ method: 'password', user: 'alice', password: PASSWORD });
    const { secrets } = await client.signedIn();

    // A proxy certificate that does not chain to the pinned CA is refused.
    await assert.rejects(TunnelClient.connect({ proxyUrl, caPem: otherCaPem(), secrets }), (err: unknown) => isLatchError(err, ErrorCode.CA_MISMATCH));

    const tunnel = await TunnelClient.connect({ proxyUrl, caPem: profile.caPem, secrets });
    const ended = new Promise<TunnelEnd>((resolve) => tunnel.once('end', resolve));
    const failed = new Promise<[string, string]>((resolve) => tunnel.once('connectionError', (id, err) => resolve([id, err.code])));
    const dead = await tunnel.listen('dead');
    const socket = net.connect({ host: '127.0.0.1', port: dead.port });
    socket.on('error', () => undefined);
    assert.deepEqual(await failed, ['dead', ErrorCode.DIAL_FAILED]);

    const result = await client.logout();
    assert.equal(result?.proxyConfirmed, true);
    const end = await ended;
    assert.equal(end.reason, 'logout');
    assert.equal(end.local, false);
    assert.equal(end.message, 'Signed out');
    // The listener closed with the tunnel.
    await assert.rejects(echoThrough(dead.port, Buffer.from('x')));

    // The old credentials are refused from now on, by the API and by the tunnel upgrade.
    await assert.rejects(TunnelClient.connect({ proxyUrl, caPem: profile.caPem, secrets }), (err: unknown) => isSessionGone(err));
    assert.deepEqual(await store.list(), []);
  });

  void test('logout with the proxy down still wipes the keychain and says so', async () => {
    const r = await latch(['login', '--proxy', proxyUrl, '--ca-fingerprint', fingerprint, '--user', 'alice', '--json'], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.stderr);
    const id = (JSON.parse(r.stdout) as { sessionId: string }).sessionId;
    assert.equal((await keychainAccounts()).filter((a) => a.startsWith(`${id}:`)).length, 3);
    assert.ok(proxy);
    proxy.kill('SIGTERM');
    assert.equal(await exitOf(proxy), 0);
    const out = await latch(['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Signed out locally: 3 keychain items/);
    assert.match(out.stderr, /LATCH_ERR_PROXY_UNREACHABLE/);
    assert.deepEqual((await keychainAccounts()).filter((a) => a.startsWith(`${id}:`)), []);
  });
});

type Event = Record<string, unknown> & { event: string };

/** The JSON event lines a tracked `latch connect --json` has printed so far. */
function eventsOf(child: ChildProcess): Event[] {
  const text = printed.get(child)?.text ?? '';
  const out: Event[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Event);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** Waits (bounded) for the first event after `skip` events that matches. */
async function waitForEvent(child: ChildProcess, match: (e: Event) => boolean, what: string, timeoutMs = STEP_TIMEOUT_MS, skip = 0): Promise<Event> {
  const started = Date.now();
  for (;;) {
    const found = eventsOf(child).slice(skip).find(match);
    if (found) return found;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: latch connect exited; output: ${printed.get(child)?.text ?? ''}`);
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not seen within ${timeoutMs} ms; output: ${printed.get(child)?.text ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One echo round trip on an open socket (bounded). */
function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`no echo of "${text}" within ${STEP_TIMEOUT_MS} ms (got "${got}")`));
    }, STEP_TIMEOUT_MS);
    const onData = (c: Buffer): void => {
      got += c.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

// The session UX of `latch connect` (the ClientEngine in a real process) against a proxy whose
// default policy is short: 10 s idle, warning 5 s before, one renewal.
void describe('latch connect: warnings, renew, re-authentication, fail closed', { timeout: 240_000 }, () => {
  let work: string;
  let configFile: string;
  let proxy: ChildProcess | undefined;
  let echo: net.Server;
  let proxyUrl: string;
  let fingerprint: string;
  let clientEnv: NodeJS.ProcessEnv;
  let configDir: string;
  const IDLE_MS = 10_000;
  const WARN_MS = 5_000;

  const latch = (args: string[], input?: string): Promise<Result> => runProcess([LATCH, ...args], input === undefined ? { env: clientEnv } : { env: clientEnv, input });
  const login = async (): Promise<{ sessionId: string; reauthenticated: boolean }> => {
    const r = await latch(['login', '--proxy', proxyUrl, '--ca-fingerprint', fingerprint, '--user', 'alice', '--json'], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { sessionId: string; reauthenticated: boolean };
  };
  const startConnect = (): ChildProcess => {
    const child = track(spawn(NODE, [LATCH, 'connect', 'echo', '--json', '--idle', 'none'], { cwd: ROOT, env: clientEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stderr?.resume();
    return child;
  };
  const serve = async (): Promise<void> => {
    proxy = track(spawn(NODE, [PROXY, 'serve', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    proxy.stderr?.resume();
    const [, fp] = await waitForLine(proxy, /listening on https:\/\/\S+\n[\s\S]*?(sha256:[0-9a-f]{64})/, 'latch-proxy serve');
    fingerprint = fp ?? '';
  };
  const profileJson = async (): Promise<{ session?: { id: string }; pendingWipes?: Array<{ sessionId: string; receipt?: string }> }> =>
    JSON.parse(await readFile(join(configDir, 'profile.json'), 'utf8')) as { session?: { id: string }; pendingWipes?: Array<{ sessionId: string; receipt?: string }> };
  const auditCount = async (type: string): Promise<number> => {
    const text = await readFile(join(work, 'proxy', 'audit.jsonl'), 'utf8').catch(() => '');
    return text.split('\n').filter((l) => l.includes(`"${type}"`)).length;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'latch-engine-e2e-'));
    echo = await startEcho();
    const init = await runProcess([PROXY, 'init', join(work, 'proxy'), '--listen', '127.0.0.1:0']);
    assert.equal(init.code, 0, `latch-proxy init failed: ${init.stderr}`);
    configFile = join(work, 'proxy', 'latch-proxy.yaml');
    // A fixed port, so the proxy can be killed and restarted at the address the client pinned.
    const port = await closedPort();
    proxyUrl = `https://127.0.0.1:${port}`;
    const doc = parseDocument(await readFile(configFile, 'utf8'));
    doc.set('listen', `127.0.0.1:${port}`);
    doc.set('publicUrl', proxyUrl);
    doc.set('groups', { default: { idleTimeout: `${IDLE_MS / 1000}s`, warnBefore: `${WARN_MS / 1000}s`, maxRenewals: 1, maxDuration: '5m' } });
    doc.set('resources', [{ id: 'echo', target: `127.0.0.1:${portOf(echo)}` }]);
    await writeFile(configFile, doc.toString());
    const add = await runProcess([PROXY, 'user', 'add', 'alice', '--config', configFile], { input: `${PASSWORD}\n` });
    assert.equal(add.code, 0, `latch-proxy user add failed: ${add.stderr}`);
    await serve();
    assert.ok(fingerprint !== '', 'the proxy printed its CA fingerprint');
    configDir = join(work, 'client-config');
    clientEnv = { ...process.env, LATCH_CONFIG_DIR: configDir };
  });

  // A failed test must not leave its `latch connect` running into the next one.
  afterEach(() => killChildren(proxy));
  after(() => teardown(echo, work));

  void test('warning, renew from another terminal, the renewal limit, status, then the idle end: exit 10, wiped, confirmed', async () => {
    const wipedBefore = await auditCount('credentials.wiped');
    const { sessionId } = await login();
    const child = startConnect();
    const state = await waitForEvent(child, (e) => e.event === 'state' && e.phase === 'active' && e.idleTimeoutMs !== null, 'first active state');
    assert.equal(state['idleTimeoutMs'], IDLE_MS);
    assert.equal(state['sessionId'], sessionId);
    assert.equal(state['renewalsLeft'], 1);

    const warning = await waitForEvent(child, (e) => e.event === 'warning', 'warning', IDLE_MS + 2_000);
    assert.equal(warning['kind'], 'idle');
    assert.equal(warning['canRenew'], true);
    assert.ok(Number(warning['remainingMs']) <= WARN_MS + 1_000, JSON.stringify(warning));

    const renew = await latch(['renew', '--json']);
    assert.equal(renew.code, 0, renew.stderr);
    assert.equal((JSON.parse(renew.stdout) as { renewalsLeft: number }).renewalsLeft, 0);
    const renewed = await waitForEvent(child, (e) => e.event === 'renewed', 'renewed (from the other terminal)');
    assert.equal(renewed['renewalsLeft'], 0);
    assert.ok(Number(renewed['idleRemainingMs']) > WARN_MS, 'the idle deadline moved out of the warning window');

    const refused = await latch(['renew']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^latch: LATCH_ERR_RENEWAL_LIMIT: /m);

    const status = JSON.parse((await latch(['status', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(status['signedIn'], true);
    assert.equal(status['online'], true);
    assert.equal(status['idleTimeoutMs'], IDLE_MS);
    assert.equal(status['renewalsLeft'], 0);
    assert.ok(Number(status['idleRemainingMs']) <= IDLE_MS);

    const ended = await waitForEvent(child, (e) => e.event === 'ended', 'ended (idle)', IDLE_MS + 5_000);
    assert.equal(ended['reason'], 'idle');
    // The proxy's timer and this client's own countdown expire together: whichever is first wins.
    assert.equal(typeof ended['local'], 'boolean');
    assert.equal(ended['wiped'], true);
    assert.equal(ended['exitCode'], 10);
    assert.match(String(ended['message']), /^Signed out: idle for 10 s$/);
    assert.equal(await exitOf(child), 10);
    assert.deepEqual((await keychainAccounts()).filter((a) => a.startsWith(`${sessionId}:`)), []);
    const profile = await profileJson();
    assert.equal(profile.session, undefined);
    assert.equal(profile.pendingWipes, undefined, 'the wipe was confirmed to the proxy');
    assert.equal(await auditCount('credentials.wiped'), wipedBefore + 1);
  });

  void test('signing in again while connected: same session, later absolute deadline, an open connection keeps working', async () => {
    const { sessionId } = await login();
    const child = startConnect();
    const port = Number((await waitForEvent(child, (e) => e.event === 'listening', 'listening'))['port']);
    const first = await waitForEvent(child, (e) => e.event === 'state' && e.phase === 'active' && e.absoluteRemainingMs !== null, 'first active state');
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    socket.on('error', () => undefined);
    assert.equal(await roundTrip(socket, 'before'), 'before');
    const certBefore = await keychainSecret(`${sessionId}:cert`);
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const skip = eventsOf(child).length;
    const again = await login();
    assert.equal(again.sessionId, sessionId, 'the same session');
    assert.equal(again.reauthenticated, true);
    const moved = await waitForEvent(child, (e) => e.event === 'state' && Number(e.absoluteRemainingMs) > Number(first['absoluteRemainingMs']), 'state with the later absolute deadline', 10_000, skip);
    assert.equal(moved['sessionId'], sessionId);
    assert.equal(await roundTrip(socket, 'after'), 'after', 'the connection opened before the re-authentication still works');
    assert.notEqual(await keychainSecret(`${sessionId}:cert`), certBefore, 'a new certificate replaced the old one');
    assert.equal((await keychainAccounts()).filter((a) => a.startsWith(`${sessionId}:`)).length, 3);
    assert.equal(child.exitCode, null, 'connect keeps running');
    socket.destroy();

    assert.equal((await latch(['logout'])).code, 0);
    const ended = await waitForEvent(child, (e) => e.event === 'ended', 'ended (logout)');
    assert.equal(ended['reason'], 'logout');
    assert.equal(await exitOf(child), 13);
  });

  void test('the warning reaches the desktop as a notification; its Renew action renews; the renewed session closes it', async () => {
    const dunst = async (...args: string[]): Promise<string> => (await execFileP('dunstctl', args, { env: clientEnv, timeout: 5_000 })).stdout.trim();
    await dunst('close-all');
    await login();
    const child = startConnect();
    await waitForEvent(child, (e) => e.event === 'state' && e.phase === 'active', 'first active state');
    await waitForEvent(child, (e) => e.event === 'warning', 'warning', IDLE_MS + 2_000);
    const displayed = async (): Promise<number> => Number(await dunst('count', 'displayed'));
    const deadline = Date.now() + 3_000;
    while ((await displayed()) !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await displayed(), 1, 'the warning is on the desktop');
    // A click (the default action) runs Renew.
    await dunst('action', '0');
    const renewed = await waitForEvent(child, (e) => e.event === 'renewed', 'renewed by the notification', 3_000);
    assert.equal(renewed['renewalsLeft'], 0);
    const gone = Date.now() + 3_000;
    while ((await displayed()) !== 0 && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await displayed(), 0, 'the warning is removed once renewed');
    assert.equal((await latch(['logout'])).code, 0);
    assert.equal(await exitOf(child), 13);
  });

  void test('the proxy unreachable past the deadline: connect ends and wipes on its own; the wipe is confirmed at next contact', async () => {
    const wipedBefore = await auditCount('credentials.wiped');
    const { sessionId } = await login();
    const child = startConnect();
    await waitForEvent(child, (e) => e.event === 'state' && e.phase === 'active', 'first active state');
    assert.ok(proxy);
    proxy.kill('SIGKILL');
    await exitOf(proxy);
    await waitForEvent(child, (e) => e.event === 'state' && e.phase === 'offline', 'offline state', 10_000);
    const ended = await waitForEvent(child, (e) => e.event === 'ended', 'local end', IDLE_MS + 5_000);
    assert.equal(ended['reason'], 'idle');
    assert.equal(ended['local'], true);
    assert.equal(ended['wiped'], true);
    assert.equal(await exitOf(child), 10);
    assert.deepEqual((await keychainAccounts()).filter((a) => a.startsWith(`${sessionId}:`)), []);
    const profile = await profileJson();
    assert.equal(profile.session, undefined);
    const pending = profile.pendingWipes?.find((w) => w.sessionId === sessionId);
    assert.ok(pending?.receipt, `the unconfirmed wipe waits in the profile with its receipt: ${JSON.stringify(profile)}`);

    await serve();
    const next = await login();
    assert.notEqual(next.sessionId, sessionId);
    assert.equal((await profileJson()).pendingWipes, undefined, 'confirmed at the next contact');
    assert.equal(await auditCount('credentials.wiped'), wipedBefore + 1);
    assert.equal((await latch(['logout'])).code, 0);
  });
});
