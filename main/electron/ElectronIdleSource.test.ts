import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { ElectronIdleSource, forwardPowerEvents } from './ElectronIdleSource.ts';
import type { PowerEvents, SystemEvent } from './ElectronIdleSource.ts';

test('idle seconds become milliseconds; a locked screen is reported', async () => {
  let seconds = 42;
  let state: 'active' | 'idle' | 'locked' | 'unknown' = 'idle';
  const idle = new ElectronIdleSource({ getSystemIdleTime: () => seconds, getSystemIdleState: () => state });
  assert.deepEqual(await idle.sample(), { idleMs: 42_000, locked: false });
  seconds = 0;
  state = 'locked';
  assert.deepEqual(await idle.sample(), { idleMs: 0, locked: true });
});

test('a failing or nonsensical reading is IDLE_SAMPLE_FAILED, never a made-up zero', async () => {
  const broken = new ElectronIdleSource({ getSystemIdleTime: () => { throw new Error('no X'); }, getSystemIdleState: () => 'unknown' });
  await assert.rejects(broken.sample(), (e: unknown) => isLatchError(e, ErrorCode.IDLE_SAMPLE_FAILED));
  const nan = new ElectronIdleSource({ getSystemIdleTime: () => Number.NaN, getSystemIdleState: () => 'active' });
  await assert.rejects(nan.sample(), (e: unknown) => isLatchError(e, ErrorCode.IDLE_SAMPLE_FAILED));
  const closed = new ElectronIdleSource({ getSystemIdleTime: () => 1, getSystemIdleState: () => 'active' });
  closed.close();
  await assert.rejects(closed.sample(), (e: unknown) => isLatchError(e, ErrorCode.IDLE_SAMPLE_FAILED));
});

test('lock, unlock, suspend and resume reach the engine until stopped', () => {
  const power = new EventEmitter() as EventEmitter & PowerEvents;
  const seen: SystemEvent[] = [];
  const stop = forwardPowerEvents(power, (e) => seen.push(e));
  for (const e of ['lock-screen', 'unlock-screen', 'suspend', 'resume', 'shutdown']) power.emit(e);
  assert.deepEqual(seen, ['lock', 'unlock', 'suspend', 'resume']);
  stop();
  power.emit('suspend');
  assert.equal(seen.length, 4);
  assert.equal(power.listenerCount('suspend'), 0);
});
