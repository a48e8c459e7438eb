// Electron tier: the built app (dist/electron/main.mjs) launched by Playwright's _electron on the
// Xvfb display, against a real latch-proxy with a short policy and a TCP target, with the real
// keychain and the OS idle time from powerMonitor (no input on Xvfb: idle grows). The same flows
// as the browser tier — sign in, connect, warning, Renew, idle end with its reason, sign in again,
// sign out — plus the tray (icon per state, countdown tooltip, menu) and the notifications
// (Renew action; Linux click renews) read through the app's LATCH_E2E_PROBE view. A second app
// starts under a managed, locked proxy (/etc/latch/policy.json, as docs/IT.md ships it): the
// sign-in form shows it pre-filled and read-only, a link to another proxy is refused.
// Where the Electron binary is missing (it downloads from GitHub) the suite is SKIPPED with the
// reason printed: never counted as passed.
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { _electron } from 'playwright-core';
import type { ElectronApplication, Page } from 'playwright-core';
import { buildMain, buildPreload, buildRenderer } from '../../main/electron/build.ts';
import { findElectronBinary } from '../../main/electron/findElectronBinary.ts';
import { LINUX_POLICY_FILE } from '../../main/electron/policy/readManagedPolicy.ts';
import { startProxyFixture } from '../browser/support/proxyFixture.ts';
import type { ProxyFixture } from '../browser/support/proxyFixture.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Starts the built app (dist/electron) with `env` on top of ours and waits for its window. */
async function launchApp(executablePath: string, env: Record<string, string>): Promise<{ app: ElectronApplication; page: Page }> {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...env })) if (value !== undefined) merged[key] = value;
  const app = await _electron.launch({ executablePath, args: [join(ROOT, 'dist', 'electron', 'main.mjs')], env: merged, timeout: 60_000 });
  const page = await app.firstWindow();
  page.setDefaultTimeout(20_000);
  return { app, page };
}
const IDLE_TIMEOUT_S = 12;
const WARN_BEFORE_S = 4;
const USER = { name: 'ann', password: 'correct horse battery' };

const binary = findElectronBinary(ROOT);
const skip = 'missing' in binary ? `Electron tier skipped: ${binary.missing}` : !process.env['DISPLAY'] ? 'Electron tier skipped: no DISPLAY (run under npm test, which starts Xvfb)' : false;
if (skip) process.stderr.write(`${skip}\n`);

/** What main.ts publishes as globalThis.latchE2eProbe (LATCH_E2E_PROBE=1). */
interface ProbeView {
  tray: { icon: string; tooltip: string; menu: string[] };
  notifications: Array<{ title: string; body: string; actions: string[] }>;
}

describe('the desktop app in Electron', { timeout: 240_000 }, () => {
  let proxy: ProxyFixture | undefined;
  let target: net.Server | undefined;
  let app: ElectronApplication | undefined;
  let page: Page;
  const work = mkdtempSync(join(tmpdir(), 'latch-electron-'));
  const service = `latch-electron-${process.pid}`;

  async function probe(): Promise<ProbeView> {
    assert.ok(app);
    return app.evaluate(() => {
      const p = (globalThis as unknown as { latchE2eProbe: { tray: { icon: string; tooltip: string; menu: Array<{ label?: string }> }; notifications: Array<{ init: { title: string; body: string; actions: Array<{ text: string }> } }> } }).latchE2eProbe;
      return {
        tray: { icon: p.tray.icon, tooltip: p.tray.tooltip, menu: p.tray.menu.map((m) => m.label ?? '-') },
        notifications: p.notifications.map((n) => ({ title: n.init.title, body: n.init.body, actions: n.init.actions.map((a) => a.text) })),
      };
    });
  }

  async function until(what: string, check: (view: ProbeView) => boolean, timeoutMs = 20_000): Promise<ProbeView> {
    const deadline = Date.now() + timeoutMs;
    let view = await probe();
    while (!check(view)) {
      if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms; probe: ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 200));
      view = await probe();
    }
    return view;
  }

  before(async () => {
    if (skip) return;
    await buildRenderer();
    await buildMain();
    await buildPreload();
    target = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    await new Promise<void>((resolve) => target?.listen(0, '127.0.0.1', resolve));
    const port = (target.address() as net.AddressInfo).port;
    proxy = await startProxyFixture({
      resources: [{ id: 'echo', target: `127.0.0.1:${port}` }],
      policy: { idleTimeout: `${IDLE_TIMEOUT_S}s`, warnBefore: `${WARN_BEFORE_S}s`, maxDuration: '10m', maxRenewals: 3 },
      user: USER,
    });
    assert.ok('path' in binary);
    ({ app, page } = await launchApp(binary.path, { LATCH_CONFIG_DIR: join(work, 'client'), LATCH_KEYCHAIN_SERVICE: service, LATCH_E2E_PROBE: '1' }));
  });

  after(async () => {
    await app?.close().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    target?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('the window is locked down', { skip }, async () => {
    // No Node in the page, and the preload's world is not the page's (contextIsolation).
    assert.equal(await page.evaluate('typeof process'), 'undefined');
    assert.equal(await page.evaluate('typeof require'), 'undefined');
    assert.deepEqual(await page.evaluate('Object.keys(window.latch).sort()'), ['clipboard', 'on', 'session', 'settings', 'tunnel']);
    // Navigation and new windows are refused.
    const url = page.url();
    await page.evaluate("location.href = 'https://example.com/'").catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(page.url(), url);
    assert.equal(await page.evaluate("window.open('https://example.com/') === null"), true);
    const view = await probe();
    assert.match(view.tray.icon, /tray-signed-out/);
  });

  test('sign in with a password, connect: tray shows connected with a countdown and the resource', { skip }, async () => {
    await page.getByRole('radio', { name: 'User and password' }).check();
    await page.getByLabel('Proxy URL').fill(proxy?.url ?? '');
    await page.getByLabel('CA fingerprint').fill(proxy?.fingerprint ?? '');
    await page.getByLabel('User', { exact: true }).fill(USER.name);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Session' }).waitFor();
    await page.getByRole('button', { name: 'Connect echo' }).click();
    await page.getByLabel('Local address of echo').waitFor();
    const view = await until('tray connected', (v) => /tray-connected/.test(v.tray.icon) && v.tray.menu.some((m) => m.startsWith('echo — 127.0.0.1:')));
    assert.match(view.tray.tooltip, /idle timeout in \d+s, session limit in \d+m \d\ds/);
  });

  test('warning: tray and notification; Renew from the notification moves the deadline', { skip }, async () => {
    await page.getByRole('alert').filter({ hasText: 'Idle timeout soon' }).waitFor({ timeout: (IDLE_TIMEOUT_S + 5) * 1000 });
    const view = await until('warning notification', (v) => /tray-warning/.test(v.tray.icon) && v.notifications.some((n) => /ends in/.test(n.title)));
    const index = view.notifications.findLastIndex((n) => /ends in/.test(n.title));
    assert.ok(app);
    // macOS/Windows: the Renew button (action 0); Linux: a click renews.
    await app.evaluate(({ Notification: _n }, i) => {
      const n = (globalThis as unknown as { latchE2eProbe: { notifications: Array<{ native: { emit(e: string, ...a: unknown[]): void } }> } }).latchE2eProbe.notifications[i];
      if (process.platform === 'linux') n?.native.emit('click');
      else n?.native.emit('action', { actionIndex: 0 }, 0);
    }, index);
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await until('tray back to connected', (v) => /tray-connected/.test(v.tray.icon));
  });

  test('idle end: reason in the window, the tray and a notification', { skip }, async () => {
    await page.getByRole('heading', { name: `Signed out: idle for ${IDLE_TIMEOUT_S} s` }).waitFor({ timeout: (IDLE_TIMEOUT_S + 8) * 1000 });
    const view = await until('tray signed out', (v) => /tray-signed-out/.test(v.tray.icon) && v.notifications.some((n) => n.title === `Signed out: idle for ${IDLE_TIMEOUT_S} s`));
    assert.match(view.tray.tooltip, /Signed out: idle for/);
  });

  test('sign in again with an enrollment link, sign out, and Quit from the tray', { skip }, async () => {
    await page.getByRole('button', { name: 'Sign in again' }).click();
    await page.getByRole('radio', { name: 'Enrollment link' }).check();
    await page.getByRole('textbox', { name: 'Enrollment link' }).fill(proxy?.enroll(USER.name) ?? '');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Session' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out', exact: true }).waitFor();
    assert.ok(app);
    const closed = new Promise<void>((resolve) => app?.once('close', () => resolve()));
    await app.evaluate(() => {
      const menu = (globalThis as unknown as { latchE2eProbe: { tray: { menu: Array<{ label?: string; click?: () => void }> } } }).latchE2eProbe.tray.menu;
      menu.find((m) => m.label === 'Quit')?.click?.();
    });
    await closed;
    app = undefined;
  });
});

/**
 * The managed case needs the real policy place. It writes /etc/latch/policy.json only where that
 * file does not exist yet and may be written (CI runs as root on a fresh machine), and removes it.
 */
function policyFileSkip(): string | false {
  if (skip) return skip;
  if (process.platform !== 'linux') return 'managed proxy case skipped: it writes /etc/latch/policy.json (Linux only)';
  if (existsSync(LINUX_POLICY_FILE)) return `managed proxy case skipped: ${LINUX_POLICY_FILE} already exists and is not this test's`;
  const parent = existsSync(dirname(LINUX_POLICY_FILE)) ? dirname(LINUX_POLICY_FILE) : dirname(dirname(LINUX_POLICY_FILE));
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    return `managed proxy case skipped: ${parent} is not writable (run as root, as CI does)`;
  }
  return false;
}
const managedSkip = policyFileSkip();
if (managedSkip && !skip) process.stderr.write(`${managedSkip}\n`);

describe('the desktop app under a managed, locked proxy', { timeout: 120_000 }, () => {
  let proxy: ProxyFixture | undefined;
  let app: ElectronApplication | undefined;
  let page: Page;
  let createdDir = false;
  let wrotePolicy = false;
  const work = mkdtempSync(join(tmpdir(), 'latch-electron-managed-'));
  const service = `latch-electron-managed-${process.pid}`;

  before(async () => {
    if (managedSkip) return;
    await buildRenderer();
    await buildMain();
    await buildPreload();
    proxy = await startProxyFixture({
      resources: [{ id: 'echo', target: '127.0.0.1:9' }],
      policy: { idleTimeout: '5m', warnBefore: '1m', maxDuration: '10m', maxRenewals: 3 },
      user: USER,
    });
    if (!existsSync(dirname(LINUX_POLICY_FILE))) {
      mkdirSync(dirname(LINUX_POLICY_FILE), { mode: 0o755 });
      createdDir = true;
    }
    writeFileSync(LINUX_POLICY_FILE, JSON.stringify({ proxyUrl: proxy.url, caFingerprint: proxy.fingerprint, lockProxy: true }), { flag: 'wx', mode: 0o644 });
    wrotePolicy = true;
    assert.ok('path' in binary);
    ({ app, page } = await launchApp(binary.path, { LATCH_CONFIG_DIR: join(work, 'client'), LATCH_KEYCHAIN_SERVICE: service }));
  });

  after(async () => {
    await app?.close().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    if (wrotePolicy) rmSync(LINUX_POLICY_FILE, { force: true });
    if (createdDir) rmdirSync(dirname(LINUX_POLICY_FILE));
    rmSync(work, { recursive: true, force: true });
  });

  test('the password form shows the proxy pre-filled, read-only, with the administrator note', { skip: managedSkip }, async () => {
    await page.getByRole('radio', { name: 'User and password' }).check();
    const url = page.getByRole('textbox', { name: 'Proxy URL' });
    const fingerprint = page.getByRole('textbox', { name: 'CA fingerprint' });
    await page.waitForFunction(`document.getElementById('proxy-url')?.value === ${JSON.stringify(proxy?.url ?? '')}`, null, { timeout: 20_000 });
    assert.equal(await fingerprint.inputValue(), proxy?.fingerprint);
    for (const field of [url, fingerprint]) {
      assert.equal(await field.getAttribute('readonly'), '');
      assert.equal(await field.isDisabled(), false);
      assert.equal(await field.getAttribute('aria-describedby'), 'managed-proxy-note');
    }
    assert.equal((await page.locator('#managed-proxy-note').innerText()).trim(), 'Set by your administrator');
  });

  test('an enrollment link to another proxy is refused with the policy message', { skip: managedSkip }, async () => {
    await page.getByRole('radio', { name: 'Enrollment link' }).check();
    const link = new URL(proxy?.enroll(USER.name) ?? '');
    const other = new URL(link.searchParams.get('proxy') ?? '');
    other.port = '9';
    link.searchParams.set('proxy', other.origin);
    await page.getByRole('textbox', { name: 'Enrollment link' }).fill(link.href);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: `allows sign-in only to ${proxy?.url ?? '?'}` }).waitFor();
  });

  test('sign-in with user and password succeeds against the locked proxy', { skip: managedSkip }, async () => {
    await page.getByRole('radio', { name: 'User and password' }).check();
    await page.getByLabel('User', { exact: true }).fill(USER.name);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Session' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out', exact: true }).waitFor();
  });
});
