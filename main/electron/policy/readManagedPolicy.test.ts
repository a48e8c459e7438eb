import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LINUX_POLICY_FILE, MAC_POLICY_FILE, parsePlistPolicy, parseRegPolicy, readManagedPolicy } from './readManagedPolicy.ts';
import type { PolicySources } from './readManagedPolicy.ts';
import { parseRegQuery } from './registry.ts';
import { build, buildBinary } from 'plist';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'policy');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const FP = 'sha256:3f2a9c1104b76ed5880a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60';

function sources(platform: NodeJS.Platform, files: Record<string, Buffer>, reg: Record<string, string> = {}): PolicySources {
  return {
    platform,
    readFile: (path) => {
      const data = files[path];
      if (data === undefined) return Promise.reject(Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' }));
      return Promise.resolve(data);
    },
    regQuery: (key) => {
      const out = reg[key];
      return out === undefined ? Promise.reject(new Error('ERROR: The system was unable to find the specified registry key or value.')) : Promise.resolve(out);
    },
  };
}

test('macOS: the managed-preferences plist is read; a bad channel is reported and the rest applies', async () => {
  const { policy, problems } = await readManagedPolicy(sources('darwin', { [MAC_POLICY_FILE]: fixture('com.latch.desktop.plist') }));
  assert.deepEqual(policy, {
    proxyUrl: 'https://proxy.corp.example:8443',
    caFingerprint: FP,
    lockProxy: true,
    warnLeadMinMs: 60_000,
    warnLeadMaxMs: 300_000,
    startAtLogin: true,
    autoUpdate: true,
  });
  assert.deepEqual(problems.map((p) => [p.source, p.key]), [[MAC_POLICY_FILE, 'updateChannel']]);
});

test('macOS writes managed preferences as binary plists: read the same', () => {
  const raw = { proxyUrl: 'https://proxy.corp.example', lockProxy: true, warnLeadMax: 120 };
  const binary = parsePlistPolicy(buildBinary(raw), 'bin.plist');
  assert.deepEqual(binary, { policy: { proxyUrl: 'https://proxy.corp.example', lockProxy: true, warnLeadMaxMs: 120_000 }, problems: [] });
  assert.deepEqual(parsePlistPolicy(build(raw), 'xml.plist'), binary);
});

test('Linux: policy.json key by key; unknown and invalid keys are reported, never fatal', async () => {
  const { policy, problems } = await readManagedPolicy(sources('linux', { [LINUX_POLICY_FILE]: fixture('policy.json') }));
  assert.deepEqual(policy, {
    proxyUrl: 'https://proxy.corp.example:8443',
    caFingerprint: FP,
    lockProxy: true,
    warnLeadMinMs: 60_000,
    startAtLogin: false,
    autoUpdate: false,
    updateChannel: 'beta',
  });
  assert.deepEqual(problems.map((p) => p.key).sort(), ['colour', 'warnLeadMax']);
});

test('a broken file is reported and yields no policy; a missing one is silent', async () => {
  const broken = await readManagedPolicy(sources('linux', { [LINUX_POLICY_FILE]: fixture('broken.json') }));
  assert.deepEqual(broken.policy, {});
  assert.equal(broken.problems.length, 1);
  assert.match(broken.problems[0]?.message ?? '', /unreadable JSON/);
  assert.deepEqual(await readManagedPolicy(sources('linux', {})), { policy: {}, problems: [] });
  const plist = parsePlistPolicy('<plist><dict><key>lockProxy</key>', 'x.plist');
  assert.deepEqual(plist.policy, {});
  assert.equal(plist.problems.length, 1);
});

test('Windows .reg export (UTF-16LE + BOM): HKLM wins over HKCU key by key', () => {
  const { policy, problems } = parseRegPolicy(fixture('latch-policy.reg'), 'latch-policy.reg');
  assert.deepEqual(policy, {
    proxyUrl: 'https://proxy.corp.example:8443',
    caFingerprint: FP,
    lockProxy: true,
    warnLeadMinMs: 60_000,
    warnLeadMaxMs: 300_000,
    autoUpdate: true,
    updateChannel: 'latest',
    startAtLogin: true,
  });
  // HKCU's autoUpdate=2 is not a boolean: reported, and HKLM's value stands anyway.
  assert.deepEqual(problems.map((p) => p.key), ['autoUpdate']);
  assert.match(problems[0]?.source ?? '', /HKEY_CURRENT_USER/);
  assert.equal(parseRegPolicy(Buffer.from('REGEDIT4\r\n'), 'old.reg').problems.length, 1);
});

test('Windows live registry through reg query, HKLM then HKCU', async () => {
  const hklm = '\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Latch\r\n    proxyUrl    REG_SZ    https://proxy.corp.example\r\n    lockProxy    REG_DWORD    0x1\r\n\r\n';
  const hkcu = '\r\nHKEY_CURRENT_USER\\SOFTWARE\\Policies\\Latch\r\n    proxyUrl    REG_SZ    https://other.example\r\n    updateChannel    REG_SZ    beta\r\n\r\n';
  assert.deepEqual(parseRegQuery(hklm), { proxyUrl: 'https://proxy.corp.example', lockProxy: 1 });
  const both = await readManagedPolicy(sources('win32', {}, { 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Latch': hklm, 'HKEY_CURRENT_USER\\SOFTWARE\\Policies\\Latch': hkcu }));
  assert.deepEqual(both.policy, { proxyUrl: 'https://proxy.corp.example', lockProxy: true, updateChannel: 'beta' });
  const none = await readManagedPolicy(sources('win32', {}));
  assert.deepEqual(none, { policy: {}, problems: [] });
});
