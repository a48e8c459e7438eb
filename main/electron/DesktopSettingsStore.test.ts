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

test('the managed proxy: null when none is preset, pre-filled values, locked only with a proxy to lock to', async () => {
  const fp = `sha256:${'ab'.repeat(32)}`;
  const viewOf = async (managedProxy?: ConstructorParameters<typeof DesktopSettingsStore>[0]['managedProxy']): Promise<SettingsView> => {
    const d = dir();
    const store = new DesktopSettingsStore({ dir: d, managed: {}, applyStartAtLogin: () => undefined, ...(managedProxy === undefined ? {} : { managedProxy }) });
    const view = await store.load();
    rmSync(d, { recursive: true, force: true });
    return view;
  };
  assert.equal((await viewOf()).managedProxy, null);
  assert.equal((await viewOf({})).managedProxy, null);
  // lockProxy alone (no proxyUrl) locks nothing, as checkSignInAllowed enforces nothing then.
  assert.equal((await viewOf({ lockProxy: true })).managedProxy, null);
  assert.deepEqual((await viewOf({ proxyUrl: 'https://proxy.corp.example:8443', caFingerprint: fp, lockProxy: true })).managedProxy, {
    proxyUrl: 'https://proxy.corp.example:8443',
    caFingerprint: fp,
    locked: true,
  });
  assert.deepEqual((await viewOf({ proxyUrl: 'https://proxy.corp.example', lockProxy: false })).managedProxy, { proxyUrl: 'https://proxy.corp.example', caFingerprint: null, locked: false });
  assert.deepEqual((await viewOf({ caFingerprint: fp, lockProxy: true })).managedProxy, { proxyUrl: null, caFingerprint: fp, locked: false });
});

test('the managed proxy stays in the view through policy changes and settings changes', async () => {
  const d = dir();
  const managedProxy = { proxyUrl: 'https://proxy.corp.example', caFingerprint: `sha256:${'cd'.repeat(32)}`, lockProxy: true };
  const store = new DesktopSettingsStore({ dir: d, managed: {}, applyStartAtLogin: () => undefined, managedProxy });
  await store.load();
  const seen: SettingsView[] = [];
  store.onChange((v) => seen.push(v));
  store.setPolicy(PRODUCTION);
  const after = await store.set({ startAtLogin: true });
  const expected = { proxyUrl: managedProxy.proxyUrl, caFingerprint: managedProxy.caFingerprint, locked: true };
  assert.deepEqual(after.managedProxy, expected);
  assert.deepEqual(seen.map((v) => v.managedProxy), [expected, expected]);
  // Not a desktop setting: settings:set has no key for it, and `locked` lists desktop settings only.
  assert.deepEqual(after.locked, []);
  rmSync(d, { recursive: true, force: true });
});
