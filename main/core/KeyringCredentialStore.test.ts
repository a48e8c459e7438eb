import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { KeyringCredentialStore } from './KeyringCredentialStore.ts';
import { loadSessionSecrets, saveSessionSecrets, wipeSessionSecrets } from './SessionSecrets.ts';
import { startDbus } from '../../test/support/startDbus.ts';
import { keychainAccounts, requireSecretService } from '../../test/support/keychain.ts';
import { spawnChild } from '../../test/support/children.ts';
import { startDesktopEnv } from '../../scripts/desktop-env.mjs';

const run = promisify(execFile);



/** A service name of its own, so concurrent test files never see each other's items. */
const service = (): string => `latch-test-${randomBytes(4).toString('hex')}`;

void test('set/get/list/delete round-trip in the real Secret Service, confirmed by secret-tool', async () => {
  requireSecretService();
  const store = new KeyringCredentialStore({ service: service() });
  await store.assertAvailable();
  await store.set('s1:token', 'tok-1');
  await store.set('s1:key', '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
  assert.equal(await store.get('s1:token'), 'tok-1');
  assert.equal(await store.get('missing'), null);
  assert.deepEqual((await store.list()).sort(), ['s1:key', 's1:token']);
  assert.deepEqual(await keychainAccounts(store.service), ['s1:key', 's1:token']);
  await store.set('s1:token', 'tok-2');
  assert.equal(await store.get('s1:token'), 'tok-2', 'set replaces');
  assert.equal(await store.delete('s1:token'), true);
  assert.equal(await store.delete('s1:token'), false);
  assert.equal(await store.delete('s1:key'), true);
  assert.deepEqual(await store.list(), []);
  assert.deepEqual(await keychainAccounts(store.service), []);
});

void test('the availability probe leaves no canary behind', async () => {
  requireSecretService();
  const store = new KeyringCredentialStore({ service: service() });
  await store.assertAvailable();
  await store.assertAvailable();
  assert.deepEqual(await keychainAccounts(store.service), []);
});

void test('session secrets: saved under <id>:key|cert|token and wiped completely', async () => {
  requireSecretService();
  const store = new KeyringCredentialStore({ service: service() });
  await saveSessionSecrets(store, 'abc', { key: 'K', cert: 'C', token: 'T' });
  await store.set('abc:extra', 'X');
  await store.set('other:token', 'O');
  assert.deepEqual(await loadSessionSecrets(store, 'abc'), { key: 'K', cert: 'C', token: 'T' });
  assert.equal(await wipeSessionSecrets(store, 'abc'), 4);
  assert.equal(await wipeSessionSecrets(store, 'abc'), 0, 'idempotent');
  assert.deepEqual(await keychainAccounts(store.service), ['other:token']);
  await assert.rejects(loadSessionSecrets(store, 'abc'), (err: unknown) => isLatchError(err, ErrorCode.NOT_SIGNED_IN));
  await store.delete('other:token');
});

void test('listing while another process creates and deletes items of the service never fails', async () => {
  requireSecretService();
  const store = new KeyringCredentialStore({ service: service() });
  await store.set('mine:token', 'T');
  // Another client churning items of the same service, as a second Latch process signing in and
  // wiping would; bounded in count. Before listing retried, ~1 listing in 10 failed here.
  const churn = spawn('sh', ['-c', `i=0; while [ $i -lt 120 ]; do printf x | secret-tool store --label=churn service ${store.service} account churn:$i && secret-tool clear service ${store.service} account churn:$i; i=$((i+1)); done`], { stdio: 'ignore' });
  const churned = new Promise<number | null>((resolve) => churn.once('exit', resolve));
  let running = true;
  void churned.then(() => (running = false));
  const failures: string[] = [];
  let listings = 0;
  try {
    for (let i = 0; i < 5_000 && running; i++) {
      try {
        const accounts = await store.list();
        assert.ok(accounts.includes('mine:token'), `mine:token missing from ${accounts.join(', ')}`);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
      listings++;
    }
    assert.equal(await churned, 0, 'the churn ran to the end');
  } finally {
    churn.kill();
    await store.delete('mine:token');
  }
  assert.ok(listings >= 30, `only ${listings} listings overlapped the churn`);
  assert.deepEqual(failures, [], `${failures.length} of ${listings} listings failed`);
});

void test('a Secret Service that dies under calls in flight and comes back: no call fails', async () => {
  // The private desktop restarts its gnome-keyring when it dies, as D-Bus activation would on a
  // desktop. What dies here is what gnome-keyring's known crash does: a fatal assertion, SIGTRAP.
  const warnings: string[] = [];
  const d = await startDesktopEnv({ display: false, notifications: false, warn: (line: string) => warnings.push(line) });
  const child = spawnChild('keychain calls', process.execPath, [fileURLToPath(new URL('../../test/support/keychainCalls.ts', import.meta.url)), service(), '3000', '4'], {
    env: { ...d.env, PATH: process.env['PATH'] ?? '' },
  });
  try {
    await child.waitFor(/^ready$/m, 15_000);
    // Four callers keep the daemon busy, so requests are in flight when it dies.
    await sleep(300);
    const daemon = d.pids.at(-1) ?? 0;
    assert.match((await run('ps', ['-o', 'comm=', '-p', String(daemon)])).stdout, /gnome-keyring/);
    process.kill(daemon, 'SIGTRAP');
    const exit = await child.wait(30_000);
    assert.equal(exit.code, 0, child.tail());
    assert.ok(warnings.some((w) => w.includes('restarted (pid')), `the daemon was not restarted: ${warnings.join('\n')}`);
    const result = JSON.parse(child.lines.at(-1)?.text ?? '{}') as { ok: number; failures: string[] };
    assert.deepEqual(result.failures, [], `${result.failures.length} calls failed, ${result.ok} succeeded`);
    assert.ok(result.ok >= 20, `only ${result.ok} calls`);
  } finally {
    await child.stop();
    await d.stop();
  }
});

void test('no session bus: every operation is KEYCHAIN_UNAVAILABLE with a clear message', async () => {
  const store = new KeyringCredentialStore({ service: service(), env: {}, platform: 'linux' });
  const check = (err: unknown): boolean => {
    assert.ok(isLatchError(err, ErrorCode.KEYCHAIN_UNAVAILABLE), String(err));
    assert.match(err.message, /Secret Service/);
    assert.match(err.message, /never stores secrets in files/);
    return true;
  };
  await assert.rejects(store.assertAvailable(), check);
  await assert.rejects(store.set('a', 'b'), check);
  await assert.rejects(store.get('a'), check);
  await assert.rejects(store.delete('a'), check);
  await assert.rejects(store.list(), check);
});

/** Runs the availability probe in a child process whose environment is exactly `env`. */
async function probeIn(env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<{ out: string; ms: number }> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { KeyringCredentialStore } from ${JSON.stringify(new URL('./KeyringCredentialStore.ts', import.meta.url).href)};
       try { await new KeyringCredentialStore({ service: ${JSON.stringify(service())}${timeoutMs === undefined ? '' : `, timeoutMs: ${timeoutMs}`} }).assertAvailable(); process.stdout.write('available'); }
       catch (e) { process.stdout.write(String(e.code) + ' ' + e.message); }`,
    ],
    { env: { PATH: process.env['PATH'] ?? '', ...env } },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('probe child did not finish in 20 s'));
    }, 20_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0);
  return { out, ms: Date.now() - started };
}

void test('a dead bus is KEYCHAIN_UNAVAILABLE, not a fallback to another store', async () => {
  const { out } = await probeIn({ HOME: tmpdir(), DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  assert.match(out, /^LATCH_ERR_KEYCHAIN_UNAVAILABLE .*Secret Service/);
});

void test('a bus that never answers is KEYCHAIN_UNAVAILABLE at the timeout, and the process can exit', async () => {
  // A session bus whose other end accepts the connection and then never says a word.
  const dir = await mkdtemp(join(tmpdir(), 'latch-silent-bus-'));
  const path = join(dir, 'bus');
  const held: Socket[] = [];
  const server = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const { out, ms } = await probeIn({ HOME: tmpdir(), DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}` }, 1_500);
    assert.match(out, /^LATCH_ERR_KEYCHAIN_UNAVAILABLE .*accepted a connection but did not answer within 1500 ms/);
    assert.ok(ms < 15_000, `took ${ms} ms`);
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a bus with no Secret Service on it is KEYCHAIN_UNAVAILABLE', async () => {
  const bus = await startDbus({ reuse: false });
  try {
    const { out } = await probeIn({ HOME: tmpdir(), DBUS_SESSION_BUS_ADDRESS: bus.address });
    assert.match(out, /^LATCH_ERR_KEYCHAIN_UNAVAILABLE .*Secret Service/);
  } finally {
    await bus.stop();
  }
});

void test('a locked keyring is KEYCHAIN_UNAVAILABLE, promptly', async () => {
  const bus = await startDbus({ reuse: false });
  const home = await mkdtemp(join(tmpdir(), 'latch-keyring-home-'));
  const runtime = await mkdtemp(join(tmpdir(), 'latch-keyring-run-'));
  const env = { PATH: process.env['PATH'] ?? '', HOME: home, XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: bus.address };
  // --foreground keeps the daemon our child, so we stop it by its PID.
  const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  keyring.stdin.end('unlock-me');
  try {
    const owned = async (): Promise<boolean> => {
      const { stdout } = await run('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'], { env, timeout: 5_000 });
      return stdout.includes('boolean true');
    };
    const deadline = Date.now() + 10_000;
    while (!(await owned())) {
      assert.ok(Date.now() < deadline, 'gnome-keyring did not take org.freedesktop.secrets within 10 s');
      await sleep(50);
    }
    assert.match((await probeIn(env)).out, /^available$/, 'unlocked, the keyring works');
    await run('gdbus', ['call', '--session', '--dest', 'org.freedesktop.secrets', '--object-path', '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.Lock', "[objectpath '/org/freedesktop/secrets/collection/login']"], { env, timeout: 5_000 });
    const { out, ms } = await probeIn(env);
    assert.match(out, /^LATCH_ERR_KEYCHAIN_UNAVAILABLE .*unlock/);
    assert.ok(ms < 15_000, `took ${ms} ms`);
  } finally {
    keyring.kill('SIGTERM');
    await bus.stop();
    await rm(home, { recursive: true, force: true });
    await rm(runtime, { recursive: true, force: true });
  }
});
