import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import type { SettingsView } from '../../common/ipc.ts';
import type { EffectivePolicy } from '../../common/session.ts';
import { DesktopSettingsStore, SETTINGS_FILE } from './DesktopSettingsStore.ts';

const PRODUCTION: EffectivePolicy = { idleTimeoutMs: 900_000, maxDurationMs: 3_600_000, warnBeforeMs: 120_000, maxRenewals: 3, activity: 'input', onLock: 'idle', groups: ['production'] };

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'latch-settings-'));
}

test('defaults, persisted changes, start at login applied to the OS', async () => {
  const d = dir();
  const applied: boolean[] = [];
  const store = new DesktopSettingsStore({ dir: d, managed: {}, applyStartAtLogin: (v) => applied.push(v) });
  assert.deepEqual((await store.load()).settings, { warningLeadMs: 120_000, startAtLogin: false });
  const changes: SettingsView[] = [];
  store.onChange((v) => changes.push(v));
  await store.set({ startAtLogin: true, warningLeadMs: 300_000 });
  assert.deepEqual(applied, [false, true]);
  assert.equal(changes.length, 1);
  assert.deepEqual(JSON.parse(readFileSync(join(d, SETTINGS_FILE), 'utf8')), { warningLeadMs: 300_000, startAtLogin: true });
  assert.equal(statSync(join(d, SETTINGS_FILE)).mode & 0o777, 0o600);
  const again = new DesktopSettingsStore({ dir: d, managed: {}, applyStartAtLogin: (v) => applied.push(v) });
  assert.deepEqual((await again.load()).settings, { warningLeadMs: 300_000, startAtLogin: true });
  rmSync(d, { recursive: true, force: true });
});

test('the lead time stays within the policy bounds: refused outside, clamped when a policy tightens', async () => {
  const d = dir();
  const store = new DesktopSettingsStore({ dir: d, managed: {}, applyStartAtLogin: () => undefined });
  await store.load();
  await store.set({ warningLeadMs: 600_000 });
  const seen: SettingsView[] = [];
  store.onChange((v) => seen.push(v));
  store.setPolicy(PRODUCTION);
  assert.deepEqual(store.view().warningLeadBounds, { minMs: 120_000, maxMs: 450_000 });
  assert.equal(store.view().settings.warningLeadMs, 450_000);
  assert.equal(seen.length, 1);
  await assert.rejects(store.set({ warningLeadMs: 60_000 }), (e: unknown) => isLatchError(e, ErrorCode.BAD_REQUEST));
  await assert.rejects(store.set({ warningLeadMs: 500_000 }), (e: unknown) => isLatchError(e, ErrorCode.BAD_REQUEST));
  store.setPolicy(null);
  assert.equal(store.view().settings.warningLeadMs, 600_000);
  rmSync(d, { recursive: true, force: true });
});

test('managed settings win and cannot be changed; a damaged file means defaults', async () => {
  const d = dir();
  writeFileSync(join(d, SETTINGS_FILE), '{not json');
  const applied: boolean[] = [];
  const store = new DesktopSettingsStore({ dir: d, managed: { startAtLogin: true }, applyStartAtLogin: (v) => applied.push(v) });
  const view = await store.load();
  assert.deepEqual(view.locked, ['startAtLogin']);
  assert.equal(view.settings.startAtLogin, true);
  assert.deepEqual(applied, [true]);
  await assert.rejects(store.set({ startAtLogin: false }), (e: unknown) => isLatchError(e, ErrorCode.POLICY_LOCKED));
  rmSync(d, { recursive: true, force: true });
});
