import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { NoneIdleSource } from './NoneIdleSource.ts';
import { isIdleSourceKind } from './IdleSource.ts';

void test('none: idle grows from construction and markActive() resets it', async () => {
  let t = 1_000;
  const source = new NoneIdleSource({ now: () => t, wallNow: () => t });
  assert.equal(source.kind, 'none');
  assert.deepEqual(await source.sample(), { idleMs: 0, locked: false });
  t += 4_500;
  assert.deepEqual(await source.sample(), { idleMs: 4_500, locked: false });
  source.markActive();
  t += 250;
  assert.deepEqual(await source.sample(), { idleMs: 250, locked: false });
});

void test('none: a suspend (wall clock runs, monotonic stops) counts as idle', async () => {
  let mono = 0;
  let wall = 1_700_000_000_000;
  const source = new NoneIdleSource({ now: () => mono, wallNow: () => wall });
  mono += 1_000;
  wall += 1_000;
  assert.equal((await source.sample()).idleMs, 1_000);
  wall += 3_600_000;
  assert.equal((await source.sample()).idleMs, 3_601_000);
  source.markActive();
  mono += 10;
  wall += 10;
  assert.equal((await source.sample()).idleMs, 10);
});

void test('none: with the real clock idle time grows', async () => {
  const source = new NoneIdleSource();
  await new Promise((resolve) => setTimeout(resolve, 120));
  const { idleMs } = await source.sample();
  assert.ok(idleMs >= 100 && idleMs < 5_000, `idleMs ${idleMs}`);
});

void test('none: sampling after close() is a named error', async () => {
  const source = new NoneIdleSource();
  source.close();
  source.close();
  await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED));
});

void test('idle source kinds are recognised', () => {
  for (const kind of ['auto', 'x11', 'mutter', 'macos', 'windows', 'none']) assert.ok(isIdleSourceKind(kind), kind);
  assert.equal(isIdleSourceKind('wayland'), false);
});
