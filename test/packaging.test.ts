// electron-builder.yml checked against the JSON schema app-builder-lib ships (the same schema
// electron-builder validates with before it builds), plus what a hardened, signed build needs.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import Ajv from 'ajv';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');

function loadConfig(): Record<string, unknown> {
  return parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, unknown>;
}

function validator(): (value: unknown) => { ok: boolean; errors: string } {
  const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8')) as object;
  // Draft-07. Its one custom keyword ("typeof", on hooks and free-form maps such as the desktop
  // entry) is ignored, as electron-builder's own validator does (Ajv with strict: false).
  const ajv = new Ajv({ allErrors: true, jsonPointers: true });
  const validate = ajv.compile(schema);
  return (value) => {
    const ok = validate(value) === true;
    return { ok, errors: ajv.errorsText(validate.errors) };
  };
}

test('electron-builder.yml is valid under app-builder-lib/scheme.json', () => {
  const result = validator()(loadConfig());
  assert.equal(result.ok, true, result.errors);
});

test('the schema check rejects an unknown key and a wrong type', () => {
  const check = validator();
  const config = loadConfig();
  assert.equal(check({ ...config, signEverythingTwice: true }).ok, false);
  assert.equal(check({ ...config, electronFuses: { runAsNode: 'no' } }).ok, false);
  assert.equal(check({ ...config, msi: { perMachine: 'yes' } }).ok, false);
});

test('identity, protocol and targets', () => {
  const config = loadConfig();
  assert.equal(config['appId'], 'com.latch.desktop');
  assert.equal(config['productName'], 'Latch');
  assert.deepEqual((config['protocols'] as Array<{ schemes: string[] }>)[0]?.schemes, ['latch']);
  const targets = (platform: string): string[] =>
    ((config[platform] as { target: Array<string | { target: string }> }).target).map((t) => (typeof t === 'string' ? t : t.target));
  assert.deepEqual(targets('mac'), ['dmg', 'pkg']);
  assert.deepEqual(targets('win'), ['nsis', 'msi']);
  assert.deepEqual(targets('linux'), ['deb', 'rpm', 'AppImage']);
  const desktop = (config['linux'] as { desktop: { entry: Record<string, string> } }).desktop.entry;
  assert.equal(desktop['MimeType'], 'x-scheme-handler/latch;');
  assert.equal((config['msi'] as { perMachine: boolean }).perMachine, true);
  assert.equal((config['extraMetadata'] as { main: string }).main, 'dist/electron/main.mjs');
});

test('the Electron fuses are flipped for a hardened build', () => {
  assert.deepEqual(loadConfig()['electronFuses'], {
    runAsNode: false,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    onlyLoadAppFromAsar: true,
    enableEmbeddedAsarIntegrityValidation: true,
    enableCookieEncryption: true,
  });
});

test('macOS: hardened runtime, entitlements in build/, notarization', () => {
  const mac = loadConfig()['mac'] as Record<string, unknown>;
  assert.equal(mac['hardenedRuntime'], true);
  assert.equal(mac['notarize'], true);
  for (const key of ['entitlements', 'entitlementsInherit']) {
    const text = readFileSync(join(ROOT, mac[key] as string), 'utf8');
    assert.match(text, /<key>com\.apple\.security\.cs\.allow-jit<\/key>\s*<true\/>/);
  }
});

test('Windows: every signature goes through the environment-driven hook', async (t) => {
  const win = loadConfig()['win'] as { signtoolOptions: { sign: string } };
  assert.equal(win.signtoolOptions.sign, './build/sign.mjs');
  const hook = (await import(pathToFileURL(join(ROOT, win.signtoolOptions.sign)).href)) as {
    default: unknown;
    signtoolArgs: (file: string, env: Record<string, string>, tmp: string) => string[] | null;
  };
  assert.equal(typeof hook.default, 'function');
  assert.equal(hook.signtoolArgs('a.exe', {}, '/tmp'), null);
  const tmp = mkdtempSync(join(tmpdir(), 'latch-sign-test-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const azure = hook.signtoolArgs('a.exe', { LATCH_AZURE_SIGN_ENDPOINT: 'https://eus.codesigning.azure.net', LATCH_AZURE_SIGN_ACCOUNT: 'acct', LATCH_AZURE_SIGN_PROFILE: 'prof', LATCH_AZURE_DLIB: 'C:\\dlib.dll' }, tmp);
  assert.ok(azure?.includes('/dlib') && azure.includes('/dmdf') && azure.at(-1) === 'a.exe');
  assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'metadata.json'), 'utf8')), { Endpoint: 'https://eus.codesigning.azure.net', CodeSigningAccountName: 'acct', CertificateProfileName: 'prof' });
  assert.throws(() => hook.signtoolArgs('a.exe', { LATCH_AZURE_SIGN_ENDPOINT: 'e', LATCH_AZURE_SIGN_ACCOUNT: 'a', LATCH_AZURE_SIGN_PROFILE: 'p' }, '/tmp'));
  assert.deepEqual(hook.signtoolArgs('a.exe', { WIN_CSC_LINK: 'c.pfx', WIN_CSC_KEY_PASSWORD: 'pw' }, '/tmp')?.slice(-5), ['/f', 'c.pfx', '/p', 'pw', 'a.exe']);
});

test('native modules are unpacked from the asar', () => {
  const unpack = loadConfig()['asarUnpack'] as string[];
  assert.ok(unpack.some((p) => p.includes('@napi-rs/keyring') && p.endsWith('.node')));
  assert.ok(unpack.some((p) => p.includes('bufferutil')));
});
