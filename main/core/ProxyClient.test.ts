// ProxyClient against a stand-in proxy (node:https on 127.0.0.1) that can misbehave in ways the
// real one never does: the client's own checks must catch a certificate for another key, one
// that outlives the session, a CA that is not the pinned one, error bodies and silence.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import forge from 'node-forge';
import { ErrorCode, isLatchError, LatchError } from '../../common/errors.ts';
import type { ErrorCode as ErrorCodeType } from '../../common/errors.ts';
import type { CredentialStore } from './CredentialStore.ts';
import { ProfileStore } from './Profile.ts';
import { caFingerprintOf, ProxyClient } from './ProxyClient.ts';

/** A keychain stand-in: the real one is tested in KeyringCredentialStore.test.ts. */
class MemoryStore implements CredentialStore {
  readonly items = new Map<string, string>();
  available = true;
  async assertAvailable(): Promise<void> {
    if (!this.available) throw new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, 'no keychain in this test');
    return Promise.resolve();
  }
  async set(account: string, secret: string): Promise<void> {
    this.items.set(account, secret);
    return Promise.resolve();
  }
  async get(account: string): Promise<string | null> {
    return Promise.resolve(this.items.get(account) ?? null);
  }
  async delete(account: string): Promise<boolean> {
    return Promise.resolve(this.items.delete(account));
  }
  async list(): Promise<string[]> {
    return Promise.resolve([...this.items.keys()]);
  }
}

interface Pair {
  key: forge.pki.rsa.PrivateKey;
  cert: forge.pki.Certificate;
  pem: string;
  keyPem: string;
}

function rsa(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function certificate(
  subject: string,
  publicKey: forge.pki.PublicKey,
  issuer: { key: forge.pki.rsa.PrivateKey; cert?: forge.pki.Certificate },
  notAfter: Date,
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : [{ name: 'commonName', value: subject }]);
  cert.setExtensions(extensions);
  cert.sign(issuer.key, forge.md.sha256.create());
  return cert;
}

function makeCa(name: string): Pair {
  const keys = rsa();
  const cert = certificate(name, keys.publicKey, { key: keys.privateKey }, new Date(Date.now() + 86_400_000), [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, critical: true },
  ]);
  return { key: keys.privateKey, cert, pem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

type LoginMode = 'ok' | 'other-key' | 'too-long' | 'auth-error' | 'not-json' | 'silent' | 'wrong-ca';

let ca: Pair;
let otherCa: Pair;
let server: Server;
let url: string;
let mode: LoginMode = 'ok';
let requests: string[] = [];
let work: string;
const HOUR = 3_600_000;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/v1/ca') return send(res, 200, ca.pem);
    if (req.url === '/v1/logout') return send(res, 200, { ended: true });
    if (req.url !== '/v1/login') return send(res, 404, { code: ErrorCode.NOT_FOUND, message: 'no such path' });
    if (mode === 'silent') return undefined;
    if (mode === 'auth-error') return send(res, 401, { code: ErrorCode.AUTH_REJECTED, message: 'wrong user or password' });
    if (mode === 'not-json') return send(res, 500, 'Internal Server Error');
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { csr: string };
    const csr = forge.pki.certificationRequestFromPem(body.csr);
    assert.ok(csr.verify(), 'the client sends a self-signed CSR');
    const publicKey = mode === 'other-key' ? rsa().publicKey : (csr.publicKey as forge.pki.PublicKey);
    const issuer = mode === 'wrong-ca' ? otherCa : ca;
    const notAfter = new Date(Date.now() + (mode === 'too-long' ? 10 * HOUR : HOUR));
    const cert = certificate('alice', publicKey, { key: issuer.key, cert: issuer.cert }, notAfter, [{ name: 'extKeyUsage', clientAuth: true }]);
    return send(res, 200, {
      sessionId: `s${randomBytes(4).toString('hex')}`,
      user: 'alice',
      certificate: forge.pki.certificateToPem(cert),
      token: randomBytes(32).toString('base64url'),
      expiresInMs: HOUR,
      resources: [{ id: 'redis', group: 'production' }],
    });
  });
}

before(async () => {
  ca = makeCa('Test proxy CA');
  otherCa = makeCa('Another CA');
  const keys = rsa();
  const serverCert = certificate('localhost', keys.publicKey, { key: ca.key, cert: ca.cert }, new Date(Date.now() + 86_400_000), [
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    { name: 'extKeyUsage', serverAuth: true },
  ]);
  server = createServer({ key: forge.pki.privateKeyToPem(keys.privateKey), cert: forge.pki.certificateToPem(serverCert) }, onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  url = `https://127.0.0.1:${address.port}`;
  work = await mkdtemp(join(tmpdir(), 'latch-proxyclient-'));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  mode = 'ok';
  requests = [];
});

function setup(overrides: { fingerprint?: string; url?: string; timeoutMs?: number } = {}): { client: ProxyClient; store: MemoryStore; profiles: ProfileStore } {
  const store = new MemoryStore();
  const profiles = new ProfileStore(join(work, randomBytes(4).toString('hex')));
  const client = new ProxyClient({
    proxyUrl: overrides.url ?? url,
    caFingerprint: overrides.fingerprint ?? caFingerprintOf(ca.pem),
    store,
    profiles,
    timeoutMs: overrides.timeoutMs ?? 5_000,
  });
  return { client, store, profiles };
}

const password = { method: 'password', user: 'alice', password: 'pw' } as const;

async function rejectsWith(promise: Promise<unknown>, code: ErrorCodeType): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isLatchError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

async function assertNothingStored(store: MemoryStore, profiles: ProfileStore): Promise<void> {
  assert.deepEqual([...store.items.keys()], []);
  assert.deepEqual(await readdir(profiles.dir).catch(() => []), []);
}

test('login: key made here, certificate checked, secrets in the store, profile without them', async () => {
  const { client, store, profiles } = setup();
  const profile = await client.login(password);
  const id = profile.session?.id ?? '';
  assert.deepEqual([...store.items.keys()].sort(), [`${id}:cert`, `${id}:key`, `${id}:token`]);
  assert.match(store.items.get(`${id}:key`) ?? '', /BEGIN PRIVATE KEY/);
  assert.equal(profile.caPem, ca.pem);
  assert.deepEqual(profile.session?.resources, [{ id: 'redis', group: 'production' }]);
  assert.ok(Math.abs((profile.session?.expiresAt ?? 0) - (Date.now() + HOUR)) < 5_000);
  assert.deepEqual(await profiles.read(), profile);
  assert.deepEqual(requests, ['GET /v1/ca', 'POST /v1/login']);
});

test('a CA that is not the pinned one: CA_MISMATCH before any credential is sent', async () => {
  const { client, store, profiles } = setup({ fingerprint: caFingerprintOf(otherCa.pem) });
  await rejectsWith(client.login(password), ErrorCode.CA_MISMATCH);
  assert.deepEqual(requests, ['GET /v1/ca']);
  await assertNothingStored(store, profiles);
});

test('a certificate for another key, from another CA or outliving the session is refused and nothing is stored', async () => {
  for (const m of ['other-key', 'wrong-ca', 'too-long'] as const) {
    mode = m;
    requests = [];
    const { client, store, profiles } = setup();
    await rejectsWith(client.login(password), m === 'wrong-ca' ? ErrorCode.CA_MISMATCH : ErrorCode.PROTOCOL);
    await assertNothingStored(store, profiles);
    assert.ok(requests.includes('POST /v1/login'));
    // Where the certificate still fits our key, the session the proxy created is ended at once.
    if (m === 'too-long') assert.ok(requests.includes('POST /v1/logout'), requests.join(', '));
  }
});

test('error bodies become the proxy\'s named error; anything else is a protocol error', async () => {
  mode = 'auth-error';
  const a = setup();
  await rejectsWith(a.client.login(password), ErrorCode.AUTH_REJECTED);
  await assertNothingStored(a.store, a.profiles);
  mode = 'not-json';
  const b = setup();
  await rejectsWith(b.client.login(password), ErrorCode.PROTOCOL);
});

test('an unreachable or silent proxy is PROXY_UNREACHABLE, within the timeout', async () => {
  const closed = await new Promise<number>((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const down = setup({ url: `https://127.0.0.1:${closed}` });
  await rejectsWith(down.client.login(password), ErrorCode.PROXY_UNREACHABLE);
  mode = 'silent';
  const silent = setup({ timeoutMs: 500 });
  const started = Date.now();
  await rejectsWith(silent.client.login(password), ErrorCode.PROXY_UNREACHABLE);
  assert.ok(Date.now() - started < 3_000, 'bounded by timeoutMs');
  await assertNothingStored(silent.store, silent.profiles);
});

test('no keychain: KEYCHAIN_UNAVAILABLE before anything goes over the network', async () => {
  const { client, store, profiles } = setup();
  store.available = false;
  await rejectsWith(client.login(password), ErrorCode.KEYCHAIN_UNAVAILABLE);
  assert.deepEqual(requests, []);
  await assertNothingStored(store, profiles);
});

test('logout wipes the session even when the proxy cannot be reached, and says so', async () => {
  const { client, store, profiles } = setup();
  const profile = await client.login(password);
  // Point a client with the same profile at a dead port.
  await profiles.write({ ...profile, proxyUrl: 'https://127.0.0.1:1' });
  const offline = await ProxyClient.fromProfile({ store, profiles, timeoutMs: 2_000 });
  const result = await offline.logout();
  assert.equal(result?.proxyConfirmed, false);
  assert.equal(result?.proxyError?.code, ErrorCode.PROXY_UNREACHABLE);
  assert.equal(result?.wiped, 3);
  assert.deepEqual([...store.items.keys()], []);
  const after = await profiles.read();
  assert.equal(after?.session, undefined);
  assert.equal(after?.caFingerprint, profile.caFingerprint, 'the pin stays for the next sign-in');
});
