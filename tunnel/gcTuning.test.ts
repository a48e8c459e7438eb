import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tuneGcForRelay } from './gcTuning.ts';

void test('applies once on the pinned Node, and says so', () => {
  const first = tuneGcForRelay();
  assert.equal(first, process.env['LATCH_GC_TUNING'] !== '0' && Number(process.versions.v8.split('.')[0]) === 13);
  assert.equal(tuneGcForRelay(), first);
});

void test('a process that multiplexes prints nothing about V8 flags', () => {
  const mux = fileURLToPath(new URL('./Multiplexer.ts', import.meta.url));
  const script = `const { Multiplexer } = await import(${JSON.stringify(mux)});
const { EventEmitter } = await import('node:events');
const t = Object.assign(new EventEmitter(), { bufferedAmount: 0, send: () => true, close: () => {} });
new Multiplexer(t, { role: 'client', keepaliveIntervalMs: 0 }).close();`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stderr, '');
  assert.equal(res.stdout, '');
});

void test('LATCH_GC_TUNING=0 leaves V8 as it is', () => {
  const gcTuning = fileURLToPath(new URL('./gcTuning.ts', import.meta.url));
  const script = `const { tuneGcForRelay } = await import(${JSON.stringify(gcTuning)}); process.stdout.write(String(tuneGcForRelay()));`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, LATCH_GC_TUNING: '0' } });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout, 'false');
});
