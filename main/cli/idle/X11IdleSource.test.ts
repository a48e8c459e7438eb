import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { startXvfb, type XvfbHandle } from '../../../test/support/startXvfb.ts';
import { runCommand } from './runCommand.ts';
import { createIdleSource } from './createIdleSource.ts';
import { parseXprintidle, X11IdleSource } from './X11IdleSource.ts';

let xvfb: XvfbHandle;
let env: NodeJS.ProcessEnv;

before(async () => {
  xvfb = await startXvfb();
  // No session bus: this file measures X input only (lock queries are tested with a bus elsewhere).
  env = { ...process.env, DISPLAY: xvfb.display };
  delete env.DBUS_SESSION_BUS_ADDRESS;
});

after(async () => {
  await xvfb.stop();
});

void test('x11: idle time grows without input and xdotool input resets it', async () => {
  const source = await createIdleSource('x11', { platform: 'linux', vars: env });
  assert.equal(source.kind, 'x11');
  try {
    // Start from a known point: input now.
    const move = await runCommand('xdotool', ['mousemove_relative', '1', '1'], { env, timeoutMs: 5_000 });
    assert.ok(move.ok, move.ok ? '' : move.detail);
    const first = await source.sample();
    await sleep(2_000);
    const second = await source.sample();
    assert.equal(second.locked, false);
    // Tolerance for a loaded machine: helper start-up and the X server's scheduling jitter.
    assert.ok(second.idleMs - first.idleMs >= 1_000, `idle grew from ${first.idleMs} to ${second.idleMs} over 2 s`);
    assert.ok(second.idleMs >= 1_000 && second.idleMs < 10_000, `idle ${second.idleMs}`);

    const reset = await runCommand('xdotool', ['mousemove_relative', '1', '1'], { env, timeoutMs: 5_000 });
    assert.ok(reset.ok, reset.ok ? '' : reset.detail);
    const third = await source.sample();
    assert.ok(third.idleMs < 1_000 && third.idleMs < second.idleMs - 500, `idle after input ${third.idleMs} (before: ${second.idleMs})`);
  } finally {
    source.close();
  }
});

void test('x11: no DISPLAY is a named error, up front', async () => {
  const vars = { ...env };
  delete vars.DISPLAY;
  assert.throws(() => new X11IdleSource({ env: vars }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /DISPLAY/.test(err.message));
  await assert.rejects(createIdleSource('x11', { platform: 'linux', vars }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE));
  // auto on Linux with neither Mutter nor an X display has nothing to measure with.
  await assert.rejects(createIdleSource('auto', { platform: 'linux', vars }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /DISPLAY/.test(err.message));
});

void test('x11: a missing xprintidle is named with its package', async () => {
  await assert.rejects(createIdleSource('x11', { platform: 'linux', vars: { ...env, PATH: '/nonexistent' } }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /xprintidle/.test(err.message));
});

void test('x11: auto on Linux without Mutter picks X11', async () => {
  const source = await createIdleSource('auto', { platform: 'linux', vars: env });
  try {
    assert.equal(source.kind, 'x11');
    assert.equal(typeof (await source.sample()).idleMs, 'number');
  } finally {
    source.close();
  }
});

void test('x11: a display that is gone fails the sample instead of reading 0 idle', async () => {
  const other = await startXvfb();
  const source = new X11IdleSource({ env: { ...env, DISPLAY: other.display } });
  assert.equal(typeof (await source.sample()).idleMs, 'number');
  await other.stop();
  await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED));
  source.close();
});

void test('x11: a helper that hangs is cut off at the timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-idle-'));
  try {
    const hang = join(dir, 'xprintidle');
    writeFileSync(hang, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(hang, 0o755);
    const source = new X11IdleSource({ env, xprintidle: hang, timeoutMs: 300 });
    const started = performance.now();
    await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /within 300 ms/.test(err.message));
    assert.ok(performance.now() - started < 2_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('x11: sampling after close() is a named error', async () => {
  const source = new X11IdleSource({ env });
  source.close();
  await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED));
});

void test('xprintidle output parsing', () => {
  assert.equal(parseXprintidle('1234\n'), 1234);
  assert.equal(parseXprintidle('0\n'), 0);
  assert.equal(parseXprintidle(''), undefined);
  assert.equal(parseXprintidle("couldn't open display\n"), undefined);
  assert.equal(parseXprintidle('-5'), undefined);
});
