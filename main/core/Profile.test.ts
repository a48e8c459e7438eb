import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { configDir, ProfileStore } from './Profile.ts';
import type { Profile } from './Profile.ts';

const sample: Profile = {
  version: 1,
  proxyUrl: 'https://127.0.0.1:8443',
  caFingerprint: `sha256:${'0f'.repeat(32)}`,
  caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  user: 'alice',
  session: { id: 'sess1', user: 'alice', expiresAt: 1_900_000_000_000, resources: [{ id: 'redis', group: 'production' }] },
};

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'latch-profile-'));
  try {
    await fn(join(dir, 'nested', 'latch'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test('config dir: LATCH_CONFIG_DIR, then XDG_CONFIG_HOME/latch, then ~/.config/latch', () => {
  assert.equal(configDir({ LATCH_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/b', HOME: '/h' }), '/a');
  assert.equal(configDir({ XDG_CONFIG_HOME: '/b', HOME: '/h' }), '/b/latch');
  assert.equal(configDir({ HOME: '/h' }), '/h/.config/latch');
  assert.equal(configDir({ LATCH_CONFIG_DIR: '', XDG_CONFIG_HOME: '', HOME: '/h' }), '/h/.config/latch');
});

void test('round-trips a profile, creates the directory, writes mode 0600 and leaves no temp file', async () => {
  await withDir(async (dir) => {
    const store = new ProfileStore(dir);
    assert.equal(await store.read(), null);
    const oldUmask = process.umask(0o000);
    try {
      await store.write(sample);
    } finally {
      process.umask(oldUmask);
    }
    assert.deepEqual(await store.read(), sample);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o077, 0, 'config dir is private');
    assert.deepEqual(await readdir(dir), ['profile.json']);
  });
});

void test('a rewrite replaces the file atomically (rename over, never a partial file)', async () => {
  await withDir(async (dir) => {
    const store = new ProfileStore(dir);
    await store.write(sample);
    const signedOut: Profile = { ...sample };
    delete signedOut.session;
    // Many concurrent writers: every read in between sees one complete version or the other.
    const writes = Array.from({ length: 20 }, (_, i) => store.write(i % 2 === 0 ? signedOut : sample));
    const reads = Array.from({ length: 20 }, () => store.read());
    const seen = await Promise.all(reads);
    await Promise.all(writes);
    for (const p of seen) assert.ok(p !== null && p.proxyUrl === sample.proxyUrl);
    assert.deepEqual(await readdir(dir), ['profile.json']);
  });
});

void test('the profile holds no secrets: its JSON has no key, certificate or token field', async () => {
  await withDir(async (dir) => {
    const store = new ProfileStore(dir);
    // Extra fields smuggled into the object are not persisted: the writer keeps the schema.
    await store.write({ ...sample, token: 'SECRET-TOKEN', key: '-----BEGIN PRIVATE KEY-----' } as Profile);
    const text = await readFile(store.path, 'utf8');
    assert.doesNotMatch(text, /SECRET-TOKEN|PRIVATE KEY|"token"|"key"|"cert"/);
  });
});

void test('a damaged profile is a named config error, not a crash', async () => {
  await withDir(async (dir) => {
    const store = new ProfileStore(dir);
    await store.write(sample);
    for (const bad of ['{', '[]', '{"version":2}', JSON.stringify({ ...sample, session: { id: 1 } })]) {
      await writeFile(store.path, bad);
      await assert.rejects(store.read(), (err: unknown) => isLatchError(err, ErrorCode.CONFIG));
    }
  });
});

void test('keeps the wipe receipt and unconfirmed wipes (not secrets), bounded, and rejects malformed ones', async () => {
  await withDir(async (dir) => {
    const store = new ProfileStore(dir);
    const many = Array.from({ length: 60 }, (_, i) => ({ sessionId: `old${i}`, receipt: `r${i}`, items: 3 }));
    const withSession = sample.session === undefined ? undefined : { ...sample.session, wipeReceipt: 'receipt-1' };
    assert.ok(withSession);
    await store.write({ ...sample, session: withSession, pendingWipes: [...many, { sessionId: 'noreceipt', items: 0 }] });
    const back = await store.read();
    assert.equal(back?.session?.wipeReceipt, 'receipt-1');
    assert.equal(back?.pendingWipes?.length, 50, 'the oldest entries go first past the bound');
    assert.deepEqual(back?.pendingWipes?.at(-1), { sessionId: 'noreceipt', items: 0 });
    assert.deepEqual(back?.pendingWipes?.[0], { sessionId: 'old11', receipt: 'r11', items: 3 });
    await writeFile(store.path, JSON.stringify({ ...sample, pendingWipes: [{ sessionId: 'x', items: -1 }] }));
    await assert.rejects(store.read(), (err: unknown) => isLatchError(err, ErrorCode.CONFIG));
  });
});
