import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { CertificateAuthority, createCa } from './CertificateAuthority.ts';
import { makeCsr } from './testCsr.ts';
import { LoginService } from './LoginService.ts';
import { hashPassword } from './passwords.ts';
import { Store, tokenMatches } from './Store.ts';

const dir = mkdtempSync(join(tmpdir(), 'latch-login-'));
const store = new Store(join(dir, 'latch.db'));
const ca = new CertificateAuthority(createCa('Login test CA'));
store.addUser('alice', await hashPassword('alice-password'));
const csr = makeCsr();

const rejects = async (promise: Promise<unknown>, code: ErrorCode): Promise<void> => {
  await assert.rejects(promise, (err: unknown) => err instanceof LatchError && err.code === code);
};

void describe('LoginService', () => {
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const maxDurationMs = 90 * 60_000;
  const service = new LoginService({ store, ca, maxDurationMs, resources: () => [{ id: 'redis', group: 'default' }] });

  void it('signs in with a password: session row, hashed token, certificate bounded by maxDuration', async () => {
    const before = Date.now();
    const { response, serial } = await service.login({ method: 'password', user: 'alice', password: 'alice-password', csr, device: 'laptop' });
    assert.equal(response.user, 'alice');
    assert.match(response.token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(response.expiresInMs <= maxDurationMs && response.expiresInMs > maxDurationMs - 5_000);
    assert.deepEqual(response.resources, [{ id: 'redis', group: 'default' }]);
    const cert = new X509Certificate(response.certificate);
    assert.equal(cert.subject, 'CN=alice');
    assert.equal(cert.serialNumber, serial);
    const row = store.getSession(response.sessionId);
    assert.ok(row);
    assert.equal(row.device, 'laptop');
    assert.ok(Date.parse(cert.validTo) <= row.absoluteDeadline, 'certificate outlives the session');
    assert.ok(row.absoluteDeadline <= Date.now() + maxDurationMs && row.absoluteDeadline >= before + maxDurationMs);
    assert.ok(tokenMatches(response.token, row.tokenHash));
    assert.notEqual(row.tokenHash, response.token);
  });

  void it('the same AUTH_REJECTED for an unknown user and a wrong password', async () => {
    const messages: string[] = [];
    for (const user of ['alice', 'mallory']) {
      await assert.rejects(service.login({ method: 'password', user, password: 'wrong-password', csr }), (err: unknown) => {
        assert.ok(err instanceof LatchError);
        assert.equal(err.code, ErrorCode.AUTH_REJECTED);
        messages.push(err.message);
        return true;
      });
    }
    assert.equal(messages[0], messages[1]);
  });

  void it('an enrollment code signs in once; reuse is ENROLLMENT_INVALID', async () => {
    const { code } = store.createEnrollment('alice', 60_000);
    const first = await service.login({ method: 'enrollment', code, csr });
    assert.equal(first.response.user, 'alice');
    await rejects(service.login({ method: 'enrollment', code, csr }), ErrorCode.ENROLLMENT_INVALID);
    await rejects(service.login({ method: 'enrollment', code: 'AAAAA-AAAAA-AAAAA-AAAAA', csr }), ErrorCode.ENROLLMENT_INVALID);
  });

  void it('a bad CSR does not consume the code', async () => {
    const { code } = store.createEnrollment('alice', 60_000);
    await rejects(service.login({ method: 'enrollment', code, csr: makeCsr(1024) }), ErrorCode.BAD_REQUEST);
    const ok = await service.login({ method: 'enrollment', code, csr });
    assert.equal(ok.response.user, 'alice');
  });

  void it('malformed bodies are BAD_REQUEST', async () => {
    for (const body of [null, [], 'x', {}, { method: 'magic', csr }, { method: 'password', user: 'alice', csr }, { method: 'password', user: 'alice', password: 'x' }, { method: 'enrollment', code: 5, csr }]) {
      await rejects(service.login(body), ErrorCode.BAD_REQUEST);
    }
  });

  void it('a short maxDuration gives a certificate that expires with the session', async () => {
    const short = new LoginService({ store, ca, maxDurationMs: 2_000, resources: () => [] });
    const { response } = await short.login({ method: 'password', user: 'alice', password: 'alice-password', csr });
    const cert = new X509Certificate(response.certificate);
    const row = store.getSession(response.sessionId);
    assert.ok(row);
    assert.ok(Date.parse(cert.validTo) <= row.absoluteDeadline);
    assert.ok(Date.parse(cert.validTo) > Date.now() - 1_000);
    assert.ok(response.expiresInMs <= 2_000);
  });

  void it('a wipe receipt is issued and stored hashed', async () => {
    const { response } = await service.login({ method: 'password', user: 'alice', password: 'alice-password', csr });
    assert.match(response.wipeReceipt, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(response.wipeReceipt, response.token);
    assert.equal(store.confirmWipe(response.sessionId, response.wipeReceipt).result, 'first');
  });

  void it('re-authentication keeps the session id, issues new credentials and revokes the old certificate', async () => {
    store.addUser('bob', await hashPassword('bob-password-1'));
    const first = await service.login({ method: 'password', user: 'alice', password: 'alice-password', csr });
    const session = store.getSession(first.response.sessionId);
    assert.ok(session);
    await rejects(service.reauthenticate({ method: 'password', user: 'bob', password: 'bob-password-1', csr }, session, maxDurationMs), ErrorCode.AUTH_REJECTED);
    await rejects(service.reauthenticate({ method: 'password', user: 'alice', password: 'nope-nope', csr }, session, maxDurationMs), ErrorCode.AUTH_REJECTED);
    const again = await service.reauthenticate({ method: 'password', user: 'alice', password: 'alice-password', csr }, session, 60_000);
    assert.equal(again.response.sessionId, session.id);
    assert.notEqual(again.response.token, first.response.token);
    assert.notEqual(again.serial, first.serial);
    assert.ok(again.response.expiresInMs <= 60_000, 'bounded by the policy in effect');
    assert.equal(store.isRevoked(first.serial), true);
    assert.equal(store.sessionBySerial(again.serial)?.id, session.id);
    store.endSession(session.id, 'logout');
    await rejects(service.reauthenticate({ method: 'password', user: 'alice', password: 'alice-password', csr }, session, maxDurationMs), ErrorCode.SESSION_ENDED);
  });
});
