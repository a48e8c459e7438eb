import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IdleSample, IdleSource } from './IdleSource.ts';
import { SuspendAwareIdleSource } from './SuspendAwareIdleSource.ts';

/** A machine with a wall clock, a monotonic clock that stops in suspend, and an OS idle counter on it. */
function machine() {
  const m = { wall: 1_000_000, mono: 5_000, lastInputMono: 5_000, locked: false, closed: false };
  const inner: IdleSource = {
    kind: 'fake',
    sample: () => Promise.resolve<IdleSample>({ idleMs: m.mono - m.lastInputMono, locked: m.locked }),
    close: () => {
      m.closed = true;
    },
  };
  return {
    m,
    source: new SuspendAwareIdleSource(inner, { wallNow: () => m.wall, monoNow: () => m.mono }),
    run: (ms: number) => {
      m.wall += ms;
      m.mono += ms;
    },
    suspend: (ms: number) => {
      m.wall += ms;
    },
    input: () => {
      m.lastInputMono = m.mono;
    },
  };
}

void test('suspend without input afterwards counts as idle, and keeps counting', async () => {
  const { source, run, suspend } = machine();
  run(3_000);
  assert.equal((await source.sample()).idleMs, 3_000);
  suspend(3_600_000);
  run(1_000);
  assert.equal((await source.sample()).idleMs, 3_604_000, 'an hour asleep is an hour idle');
  run(1_000);
  assert.equal((await source.sample()).idleMs, 3_605_000);
});

void test('input after the wake means someone is back: the slept time is dropped', async () => {
  const { source, run, suspend, input } = machine();
  run(3_000);
  await source.sample();
  suspend(600_000);
  run(1_000);
  assert.equal((await source.sample()).idleMs, 604_000);
  run(500);
  input();
  run(200);
  assert.deepEqual(await source.sample(), { idleMs: 200, locked: false });
  assert.equal(source.sleptMs, 0);
});

void test('woken by input before the first sample: the user is present, nothing is added', async () => {
  const { source, run, suspend, input } = machine();
  run(10_000);
  await source.sample();
  suspend(600_000);
  run(300);
  input();
  run(100);
  assert.equal((await source.sample()).idleMs, 100);
});

void test('ordinary polling and small scheduling gaps add nothing; lock and kind pass through', async () => {
  const { m, source, run } = machine();
  assert.equal(source.kind, 'fake');
  for (let i = 0; i < 5; i++) {
    run(1_000);
    m.wall += 300; // the wall clock drifts a little (NTP slew, a slow tick)
    m.locked = i === 4;
    const sample = await source.sample();
    assert.equal(sample.idleMs, (i + 1) * 1_000);
    assert.equal(sample.locked, i === 4);
  }
  source.close();
  assert.equal(m.closed, true);
});
