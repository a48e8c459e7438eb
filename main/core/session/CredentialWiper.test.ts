import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, LatchError, isLatchError } from '../../../common/errors.ts';
import type { CredentialsWipedMessage } from '../../../common/session.ts';
import { ManualClock } from './Clock.ts';
import { CredentialWiper, type WipeTarget } from './CredentialWiper.ts';
import { MemoryPendingWipes } from './PendingWipes.ts';

/** A keychain in memory that can be told to fail, to lie about deletes, or to hang. */
class FakeKeychain implements WipeTarget {
  readonly items = new Map<string, string>();
  readonly calls: string[] = [];
  /** The next this-many calls reject as an unavailable keychain. */
  failCalls = 0;
  /** Deletes of these accounts report success but leave the item (a flaky backend). */
  readonly sticky = new Map<string, number>();
  hang = false;

  constructor(accounts: string[]) {
    for (const a of accounts) this.items.set(a, `secret of ${a}`);
  }

  #enter(call: string): Promise<void> | null {
    this.calls.push(call);
    if (this.hang) return new Promise<void>(() => undefined);
    if (this.failCalls > 0) {
      this.failCalls--;
      return Promise.reject(new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, 'keychain is locked'));
    }
    return null;
  }

  async delete(account: string): Promise<boolean> {
    await (this.#enter(`delete ${account}`) ?? Promise.resolve());
    const stickyLeft = this.sticky.get(account) ?? 0;
    if (stickyLeft > 0 && this.items.has(account)) {
      this.sticky.set(account, stickyLeft - 1);
      return true;
    }
    return this.items.delete(account);
  }

  async list(): Promise<string[]> {
    await (this.#enter('list') ?? Promise.resolve());
    return [...this.items.keys()];
  }
}

/** Runs a promise to completion while moving the manual clock from timer to timer (bounded). */
async function drive<T>(clock: ManualClock, promise: Promise<T>, maxSteps = 200): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let step = 0; step < maxSteps && !settled; step++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!settled && !clock.advanceToNextTimer()) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  assert.ok(settled, `did not settle within ${maxSteps} steps`);
  return promise;
}

const SESSION_ITEMS = ['s1:key', 's1:cert', 's1:token', 's1:extra'];
const OTHERS = ['s2:key', 's10:key', 'latch-probe:abc', 'xs1:key'];

function setup(accounts = [...SESSION_ITEMS, ...OTHERS]) {
  const clock = new ManualClock();
  const keychain = new FakeKeychain(accounts);
  const pending = new MemoryPendingWipes();
  const wiper = new CredentialWiper({ target: keychain, pending, clock, maxAttempts: 5, maxTotalMs: 10_000, initialBackoffMs: 100, maxBackoffMs: 1_000, callTimeoutMs: 2_000 });
  return { clock, keychain, pending, wiper };
}

void test('deletes every item of the session and only those, verifies, and records the confirmation', async () => {
  const { clock, keychain, pending, wiper } = setup();
  const result = await drive(clock, wiper.wipe('s1'));
  assert.deepEqual(result, { sessionId: 's1', deleted: 4, attempts: 1, pendingConfirmation: true });
  assert.deepEqual([...keychain.items.keys()].sort(), [...OTHERS].sort());
  assert.equal(keychain.calls.at(-1), 'list', 'verified by listing again');
  assert.deepEqual(await pending.list(), [{ sessionId: 's1', items: 4 }]);
});

void test('retries a failing keychain with backoff, then succeeds', async () => {
  const { clock, keychain, wiper } = setup();
  keychain.failCalls = 2;
  const t0 = clock.monotonicNow();
  const result = await drive(clock, wiper.wipe('s1'));
  assert.equal(result.attempts, 3);
  assert.equal(result.deleted, 4);
  assert.equal(clock.monotonicNow() - t0, 100 + 200, 'waited 100 ms then 200 ms');
  assert.deepEqual([...keychain.items.keys()].filter((a) => a.startsWith('s1:')), []);
});

void test('a delete that claims success but leaves the item is caught by the verification and retried', async () => {
  const { clock, keychain, wiper } = setup();
  keychain.sticky.set('s1:cert', 2);
  const result = await drive(clock, wiper.wipe('s1'));
  assert.equal(result.attempts, 3);
  assert.equal(keychain.items.has('s1:cert'), false);
});

void test('one failing item does not shield the others', async () => {
  const { clock, keychain, wiper } = setup();
  // First call (list) succeeds, the first delete fails, the rest go through in the same attempt.
  const realDelete = keychain.delete.bind(keychain);
  let failed = false;
  keychain.delete = (account: string) => {
    if (!failed && account === 's1:key') {
      failed = true;
      return Promise.reject(new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, 'item busy'));
    }
    return realDelete(account);
  };
  const result = await drive(clock, wiper.wipe('s1'));
  assert.equal(result.attempts, 2);
  assert.equal(result.deleted, 4);
});

void test('gives up after the attempt bound with WIPE_FAILED and the keychain error as cause', async () => {
  const { clock, keychain, pending, wiper } = setup();
  keychain.failCalls = Number.MAX_SAFE_INTEGER;
  const t0 = clock.monotonicNow();
  await assert.rejects(drive(clock, wiper.wipe('s1')), (err) => {
    assert.ok(isLatchError(err, ErrorCode.WIPE_FAILED));
    assert.ok(isLatchError(err.cause, ErrorCode.KEYCHAIN_UNAVAILABLE));
    assert.match(err.message, /5 attempt/);
    return true;
  });
  assert.equal(keychain.calls.filter((c) => c === 'list').length, 5);
  assert.ok(clock.monotonicNow() - t0 <= 10_000);
  assert.deepEqual(await pending.list(), [], 'nothing claims a wipe that did not happen');
});

void test('gives up within the time bound when the keychain hangs', async () => {
  const { clock, keychain, wiper } = setup();
  keychain.hang = true;
  const t0 = clock.monotonicNow();
  await assert.rejects(drive(clock, wiper.wipe('s1')), (err) => isLatchError(err, ErrorCode.WIPE_FAILED));
  const took = clock.monotonicNow() - t0;
  // Each attempt waits out one 2 s call timeout; no new attempt starts past 10 s.
  assert.ok(took <= 10_000 + 2_000, `took ${took} ms`);
  assert.ok(keychain.calls.length >= 2 && keychain.calls.length <= 5, `${keychain.calls.length} calls`);
});

void test('idempotent: a second wipe deletes nothing, succeeds, and keeps the pending count', async () => {
  const { clock, pending, wiper } = setup();
  await drive(clock, wiper.wipe('s1'));
  const again = await drive(clock, wiper.wipe('s1'));
  assert.equal(again.deleted, 0);
  assert.equal(again.pendingConfirmation, true);
  assert.deepEqual(await pending.list(), [{ sessionId: 's1', items: 4 }]);
});

void test('concurrent wipes of one session share one run', async () => {
  const { clock, keychain, wiper } = setup();
  const a = wiper.wipe('s1');
  const b = wiper.wipe('s1');
  assert.equal(a, b);
  await drive(clock, a);
  assert.equal(keychain.calls.filter((c) => c === 'list').length, 2);
});

void test('the pending confirmation is kept until it is sent, then a repeat wipe is not confirmed twice', async () => {
  const { clock, pending, wiper } = setup();
  await drive(clock, wiper.wipe('s1'));
  // Offline: the send fails; the entry stays for the next contact.
  await assert.rejects(
    wiper.confirmPending(() => {
      throw new LatchError(ErrorCode.CONNECTION_CLOSED, 'offline');
    }),
    (err) => isLatchError(err, ErrorCode.CONNECTION_CLOSED),
  );
  assert.deepEqual(await pending.list(), [{ sessionId: 's1', items: 4 }]);

  const sent: CredentialsWipedMessage[] = [];
  assert.equal(await wiper.confirmPending((msg) => void sent.push(msg)), 1);
  assert.deepEqual(sent, [{ type: 'credentials.wiped', sessionId: 's1', items: 4 }]);
  assert.deepEqual(await pending.list(), []);
  assert.equal(await wiper.confirmPending((msg) => void sent.push(msg)), 0);

  const repeat = await drive(clock, wiper.wipe('s1'));
  assert.equal(repeat.pendingConfirmation, false);
  assert.deepEqual(await pending.list(), []);
});

void test('a session already wiped elsewhere (nothing left) is still confirmed once', async () => {
  const { clock, pending, wiper } = setup(OTHERS);
  const result = await drive(clock, wiper.wipe('s1'));
  assert.equal(result.deleted, 0);
  assert.deepEqual(await pending.list(), [{ sessionId: 's1', items: 0 }]);
});

void test('confirmations of several sessions go out oldest first', async () => {
  const { clock, wiper } = setup(['a:key', 'b:key', 'b:cert']);
  await drive(clock, wiper.wipe('a'));
  await drive(clock, wiper.wipe('b'));
  const sent: CredentialsWipedMessage[] = [];
  await wiper.confirmPending(async (msg) => {
    await Promise.resolve();
    sent.push(msg);
  });
  assert.deepEqual(
    sent.map((m) => [m.sessionId, m.items]),
    [['a', 1], ['b', 2]],
  );
});

void test('bad session ids and options are named errors', async () => {
  const { wiper } = setup();
  for (const bad of ['', 'a:b']) await assert.rejects(wiper.wipe(bad), (err) => isLatchError(err, ErrorCode.USAGE));
  const target = new FakeKeychain([]);
  const pending = new MemoryPendingWipes();
  assert.throws(() => new CredentialWiper({ target, pending, maxAttempts: 0 }), (err) => isLatchError(err, ErrorCode.CONFIG));
  assert.throws(() => new CredentialWiper({ target: {} as WipeTarget, pending }), (err) => isLatchError(err, ErrorCode.CONFIG));
});
