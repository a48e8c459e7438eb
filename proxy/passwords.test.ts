import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, verifyPassword } from './passwords.ts';

void describe('passwords (scrypt)', () => {
  void it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('correct horse battery staple');
    assert.match(hash, /^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await verifyPassword('correct horse battery staple', hash), true);
    assert.equal(await verifyPassword('correct horse battery stapl', hash), false);
    assert.equal(await verifyPassword('', hash), false);
  });

  void it('salts every hash', async () => {
    assert.notEqual(await hashPassword('same password'), await hashPassword('same password'));
  });

  void it('an unknown user or a malformed hash is refused after the same amount of work', async () => {
    const hash = await hashPassword('pw-12345');
    const time = async (fn: () => Promise<boolean>): Promise<[boolean, number]> => {
      const start = performance.now();
      const ok = await fn();
      return [ok, performance.now() - start];
    };
    const [known, knownMs] = await time(() => verifyPassword('wrong-pw', hash));
    const [unknown, unknownMs] = await time(() => verifyPassword('wrong-pw', undefined));
    const [malformed] = await time(() => verifyPassword('pw-12345', 'scrypt$bogus'));
    assert.equal(known, false);
    assert.equal(unknown, false);
    assert.equal(malformed, false);
    // Both paths run one full scrypt: the unknown-user path is not an order of magnitude cheaper.
    assert.ok(unknownMs > knownMs / 5, `unknown user took ${unknownMs} ms vs ${knownMs} ms`);
  });
});
