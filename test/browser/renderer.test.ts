// Browser tier: the renderer built with Vite, served on 127.0.0.1 with the app's CSP, driven by
// playwright-core in Debian's Chromium. window.latch is the test bridge (same contract, same
// handlers as ipcMain) backed by the REAL ClientEngine, a REAL latch-proxy process with a short
// policy, a real TCP target through the tunnel and the real Secret Service. Flows: sign in with a
// password → connect → warning → Renew → idle end with its reason → sign in again with an
// enrollment link → sign out. A second window runs under a managed, locked proxy (docs/IT.md): the
// sign-in form shows it pre-filled and read-only, and a link to another proxy is refused. Every
// state is screenshotted under test-artifacts/browser/ and checked with axe-core (no serious or
// critical violation).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import type { EngineSnapshot } from '../../common/engineState.ts';
import { ErrorCode } from '../../common/errors.ts';
import { toSerializedError } from '../../common/ipc.ts';
import type { SettingsView } from '../../common/ipc.ts';
import { ClientEngine } from '../../main/core/ClientEngine.ts';
import { KeyringCredentialStore } from '../../main/core/KeyringCredentialStore.ts';
import { ProfileStore } from '../../main/core/Profile.ts';
import { NoneIdleSource } from '../../main/core/idle/NoneIdleSource.ts';
import { buildRenderer } from '../../main/electron/build.ts';
import { DesktopSettingsStore } from '../../main/electron/DesktopSettingsStore.ts';
import { createIpcHandlers } from '../../main/electron/IpcHandlers.ts';
import type { IpcHandlers } from '../../main/electron/IpcHandlers.ts';
import { validatePolicy } from '../../main/electron/policy/ManagedPolicy.ts';
import { checkSignInAllowed, managedLeadBounds, managedSettings } from '../../main/electron/policy/enforcePolicy.ts';
import { buildBridgeScript, startBridgeServer } from './support/bridgeServer.ts';
import type { BridgeServer } from './support/bridgeServer.ts';
import { startProxyFixture } from './support/proxyFixture.ts';
import type { ProxyFixture } from './support/proxyFixture.ts';
import { RecordingNotifier } from './support/recordingNotifier.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const IDLE_TIMEOUT_S = 12;
const WARN_BEFORE_S = 4;
const USER = { name: 'ann', password: 'correct horse battery' };
const STEP_MS = 20_000;
const execFileP = promisify(execFile);

const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt install chromium)` : false;

/** Echoes every byte; remembers whether each connection was closed by the other side. */
async function startEchoTarget(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, server };
}

/** Opens a TCP connection to the tunnel, proves bytes round-trip, and keeps it open. */
async function echoThrough(port: number): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const payload = `latch-${Date.now()}`;
  const echoed = new Promise<string>((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no echo within 10 s (got "${got}")`)), 10_000);
    socket.on('data', (c: Buffer) => {
      got += c.toString();
      if (got.length >= payload.length) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
  socket.write(payload);
  assert.equal(await echoed, payload);
  return { socket, closed };
}

async function keychainAccounts(service: string): Promise<string[]> {
  const { stdout, stderr } = await execFileP('secret-tool', ['search', '--all', 'service', service], { timeout: 10_000 });
  return [...`${stdout}\n${stderr}`.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1] ?? '');
}

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }>;
}

async function snap(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  assert.ok(readFileSync(join(ARTIFACTS, `${name}.png`)).length > 1000, `screenshot ${name} is empty`);
}

/** axe-core on the current state: no serious or critical violation (the report is kept). */
async function axe(page: Page, name: string): Promise<void> {
  // Evaluated over the DevTools protocol, so the page's CSP (no inline script) stays in force.
  await page.evaluate(readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8'));
  const result = await page.evaluate<AxeResult>("axe.run(document, { resultTypes: ['violations'] })");
  writeFileSync(join(ARTIFACTS, `${name}.axe.json`), JSON.stringify(result.violations, null, 2));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.impact ?? ''} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    `accessibility violations in state ${name}`,
  );
}

async function state(page: Page, name: string): Promise<void> {
  await snap(page, name);
  await axe(page, name);
}

/** The renderer and the page's bridge script, built once for every window of this file. */
const buildDir = mkdtempSync(join(tmpdir(), 'latch-browser-build-'));
/**
 * Polls `check` from the test side until it holds, at most STEP_MS. (page.waitForFunction would
 * evaluate a string in the page, which the window's CSP rightly refuses.)
 */
async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${STEP_MS} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Stops what a describe block started (any part may be missing), then empties its keychain service and work folder. */
async function closeAll(parts: {
  browser: Browser | undefined;
  engine: ClientEngine | undefined;
  bridge: BridgeServer | undefined;
  proxy: ProxyFixture | undefined;
  target: { server: net.Server } | undefined;
  service: string;
  work: string;
}): Promise<void> {
  await parts.browser?.close().catch(() => undefined);
  await parts.engine?.close().catch(() => undefined);
  await parts.bridge?.close().catch(() => undefined);
  await parts.proxy?.stop().catch(() => undefined);
  parts.target?.server.close();
  // Anything the block left in its keychain service goes too.
  const store = new KeyringCredentialStore({ service: parts.service });
  for (const account of await store.list().catch(() => [])) await store.delete(account).catch(() => false);
  rmSync(parts.work, { recursive: true, force: true });
}

let built: Promise<{ staticDir: string; bridgeScript: string }> | undefined;
function buildOnce(): Promise<{ staticDir: string; bridgeScript: string }> {
  built ??= Promise.all([buildRenderer(join(buildDir, 'renderer')), buildBridgeScript()]).then(([staticDir, bridgeScript]) => ({ staticDir, bridgeScript }));
  return built;
}
after(() => rmSync(buildDir, { recursive: true, force: true }));

/** A Chromium page on the bridge, collecting CSP violations and page errors. */
async function openWindow(browser: Browser, url: string, bridgeScript: string, problems: { csp: string[]; errors: string[] }): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 800, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => {
    if (/content security policy/i.test(m.text())) problems.csp.push(m.text());
  });
  page.on('pageerror', (e) => problems.errors.push(e.message));
  await page.addInitScript({ content: bridgeScript });
  await page.goto(url);
  return page;
}

/** What main.ts sends the window as the session and the settings change, through the bridge. */
function forwardToWindow(engine: ClientEngine, settings: DesktopSettingsStore, bridge: BridgeServer): void {
  engine.on('changed', (s) => {
    settings.setPolicy(s.session?.policy ?? null);
    bridge.emit('session:changed', s);
  });
  settings.onChange((view) => bridge.emit('settings:changed', view));
}

describe('renderer in Chromium against the real engine and proxy', { skip, timeout: 240_000 }, () => {
  let proxy: ProxyFixture | undefined;
  let target: { port: number; server: net.Server } | undefined;
  let bridge: BridgeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let engine: ClientEngine | undefined;
  const notifier = new RecordingNotifier();
  const copied: string[] = [];
  const startAtLogin: boolean[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const service = `latch-browser-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'latch-browser-'));
  let tunnelSocket: { socket: net.Socket; closed: Promise<void> } | undefined;


  function currentSnapshot(): EngineSnapshot {
    assert.ok(engine, 'engine not started');
    return engine.snapshot();
  }

  before(async () => {
    assert.ok(process.env['DBUS_SESSION_BUS_ADDRESS'], 'DBUS_SESSION_BUS_ADDRESS is not set: run under `npm test` (scripts/desktop-env.mjs starts the keychain)');
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    const { staticDir, bridgeScript } = await buildOnce();
    target = await startEchoTarget();
    proxy = await startProxyFixture({
      resources: [
        { id: 'echo', target: `127.0.0.1:${target.port}` },
        { id: 'web', target: `127.0.0.1:${target.port}` },
      ],
      policy: { idleTimeout: `${IDLE_TIMEOUT_S}s`, warnBefore: `${WARN_BEFORE_S}s`, maxDuration: '10m', maxRenewals: 3 },
      user: USER,
    });
    // The handlers reach the engine through this indirection: it is created just before sign-in,
    // so the `none` idle source starts counting then.
    const live = (): ClientEngine => {
      assert.ok(engine, 'engine not started');
      return engine;
    };
    const engineProxy = {
      snapshot: () => currentSnapshot(),
      on: (_e: 'changed', l: (s: EngineSnapshot) => void) => live().on('changed', l),
      signIn: (...a: Parameters<ClientEngine['signIn']>) => live().signIn(...a),
      connect: (id: string, port?: number) => live().connect(id, port),
      disconnect: (id: string) => live().disconnect(id),
      renew: () => live().renew(),
      signOut: () => live().signOut(),
    };
    const settings = new DesktopSettingsStore({ dir: join(work, 'settings'), managed: {}, applyStartAtLogin: (v) => startAtLogin.push(v) });
    await settings.load();
    const handlers = createIpcHandlers({
      engine: engineProxy,
      settings,
      writeClipboard: (text) => {
        copied.push(text);
        return Promise.resolve();
      },
    });
    bridge = await startBridgeServer({ staticDir, handlers, onUnexpected: (ch, err) => pageErrors.push(`${ch}: ${String(err)}`) });
    engine = new ClientEngine({
      store: new KeyringCredentialStore({ service }),
      profiles: new ProfileStore(join(work, 'client')),
      idle: new NoneIdleSource(),
      notifier,
    });
    forwardToWindow(engine, settings, bridge);
    await engine.start();

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
    page = await openWindow(browser, bridge.url, bridgeScript, { csp: cspViolations, errors: pageErrors });
  });

  after(async () => {
    tunnelSocket?.socket.destroy();
    await closeAll({ browser, engine, bridge, proxy, target, service, work });
  });

  test('signed out: the sign-in screen', async () => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await assert.doesNotReject(page.getByRole('status').filter({ hasText: 'Signed out' }).waitFor());
    await state(page, '01-signed-out');
  });

  test('a wrong password is refused with a plain explanation', async () => {
    await page.getByRole('radio', { name: 'User and password' }).check();
    await page.getByLabel('Proxy URL').fill(proxy!.url);
    await page.getByLabel('CA fingerprint').fill(proxy!.fingerprint);
    await page.getByLabel('User', { exact: true }).fill(USER.name);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /user name or password was not accepted/i);
    await state(page, '02-sign-in-refused');
  });

  test('sign in with a password: the session panel with both countdowns', async () => {
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Session' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    const s = currentSnapshot();
    assert.equal(s.session?.user, USER.name);
    assert.equal(s.session?.policy.idleTimeoutMs, IDLE_TIMEOUT_S * 1000);
    const idle = await page.getByRole('timer', { name: 'Idle timeout in' }).innerText();
    const absolute = await page.getByRole('timer', { name: 'Session limit in' }).innerText();
    assert.match(idle, /^\d+s$/);
    assert.match(absolute, /^\d+m \d\ds$/);
    // The keychain holds the session's items; nothing else does.
    const accounts = await keychainAccounts(service);
    assert.ok(accounts.some((a) => a.startsWith(`${s.session?.sessionId ?? '?'}:`)), `keychain items: ${accounts.join(', ')}`);
    await state(page, '03-signed-in');
  });

  test('connect a resource: the address carries bytes and can be copied', async () => {
    await page.getByRole('button', { name: 'Connect echo' }).click();
    const address = page.getByLabel('Local address of echo');
    await address.waitFor();
    const text = await address.innerText();
    const match = /^127\.0\.0\.1:(\d+)$/.exec(text);
    assert.ok(match, `address shown: ${text}`);
    tunnelSocket = await echoThrough(Number(match[1]));
    await page.getByRole('button', { name: 'Copy address of echo' }).click();
    await page.getByRole('status').filter({ hasText: 'Address of echo copied' }).waitFor({ state: 'attached' });
    assert.deepEqual(copied, [text]);
    await state(page, '04-connected');
  });

  test('the same window in dark mode', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await state(page, '05-connected-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('idle: the warning appears in the window and as a notification with Renew', async () => {
    await page.getByRole('alert').filter({ hasText: 'Idle timeout soon' }).waitFor({ timeout: (IDLE_TIMEOUT_S + 5) * 1000 });
    assert.equal(currentSnapshot().phase, 'warning');
    const warning = notifier.shown.findLast((h) => h.request.actions.some((a) => a.id === 'renew'));
    assert.ok(warning, `no warning notification with a Renew action: ${JSON.stringify(notifier.shown.map((h) => h.request))}`);
    await state(page, '06-warning');
  });

  test('Renew: the warning goes away and the idle countdown restarts', async () => {
    const renewalsBefore = currentSnapshot().session?.renewalsLeft ?? -1;
    await page.getByRole('button', { name: 'Renew' }).click();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: 'Idle timeout soon' }).count(), 0);
    const s = currentSnapshot();
    assert.equal(s.session?.renewalsLeft, renewalsBefore - 1);
    assert.ok((s.session?.idleRemainingMs ?? 0) > WARN_BEFORE_S * 1000, `idle remaining after renew: ${s.session?.idleRemainingMs}`);
    assert.match(await page.getByText(/renewals? left/).innerText(), new RegExp(`^${renewalsBefore - 1} renewals? left`));
    await state(page, '07-renewed');
  });

  test('settings: the lead time is held within the policy bounds', async () => {
    const lead = page.getByLabel('Warn me before the idle timeout (seconds)');
    assert.equal(await lead.getAttribute('min'), String(WARN_BEFORE_S));
    assert.equal(await lead.getAttribute('max'), String(IDLE_TIMEOUT_S / 2));
    await lead.fill(String(WARN_BEFORE_S + 1));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved' }).waitFor({ state: 'attached' });
    await page.getByLabel('Start Latch when I log in').check();
    await page.getByRole('status').filter({ hasText: 'Settings saved' }).waitFor({ state: 'attached' });
    assert.equal(startAtLogin.at(-1), true);
    // Outside the bounds: the form will not submit it (main refuses it too: DesktopSettingsStore tests).
    await lead.fill(String(IDLE_TIMEOUT_S));
    await page.getByRole('button', { name: 'Save' }).click();
    assert.equal(await page.evaluate<boolean>("document.getElementById('warning-lead').validity.rangeOverflow"), true);
    await lead.fill(String(WARN_BEFORE_S + 1));
    await state(page, '08-settings');
  });

  test('no input: the session ends with its reason, tunnels closed, keychain wiped', async () => {
    const sessionId = currentSnapshot().session?.sessionId ?? '';
    const heading = page.getByRole('heading', { name: `Signed out: idle for ${IDLE_TIMEOUT_S} s` });
    await heading.waitFor({ timeout: (IDLE_TIMEOUT_S + 8) * 1000 });
    const s = currentSnapshot();
    assert.equal(s.phase, 'ended');
    assert.equal(s.ended?.reason, 'idle');
    assert.deepEqual(s.tunnels, []);
    // The tunneled connection was closed for us.
    await Promise.race([tunnelSocket!.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('tunneled connection still open')), 10_000))]);
    // Wiped: no keychain item of the session, as secret-tool (not our binding) sees it.
    // A search that runs while items are being deleted can fail on one of them: ask again.
    const deadline = Date.now() + 10_000;
    let left: string[] | Error = new Error('not asked yet');
    for (;;) {
      left = await keychainAccounts(service).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
      const settled = Array.isArray(left) && !left.some((a) => a.startsWith(`${sessionId}:`));
      if (settled || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (left instanceof Error) throw left;
    assert.deepEqual(left.filter((a) => a.startsWith(`${sessionId}:`)), []);
    await page.getByText('credentials were removed').waitFor();
    const end = notifier.shown.at(-1);
    assert.equal(end?.request.title, `Signed out: idle for ${IDLE_TIMEOUT_S} s`);
    await state(page, '09-ended-idle');
  });

  test('sign in again with an enrollment link, then sign out', async () => {
    await page.getByRole('button', { name: 'Sign in again' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByRole('radio', { name: 'Enrollment link' }).check();
    await page.getByRole('textbox', { name: 'Enrollment link' }).fill(proxy!.enroll(USER.name));
    await state(page, '10-sign-in-again');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Session' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    assert.equal(currentSnapshot().session?.user, USER.name);
    await state(page, '11-signed-in-again');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out', exact: true }).waitFor();
    assert.equal(currentSnapshot().ended?.reason, 'logout');
    await state(page, '12-signed-out-logout');
  });

  test('the page ran under the CSP with no violation and no error; other origins cannot reach the bridge', async () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
    const foreign = new WebSocket(`${bridge!.url.replace('http', 'ws')}bridge`, { origin: 'http://evil.example' });
    const outcome = await new Promise<string>((resolve) => {
      foreign.once('open', () => resolve('open'));
      foreign.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode ?? 0}`));
      foreign.once('error', () => resolve('error'));
    });
    foreign.terminate();
    assert.match(outcome, /^refused 4\d\d$/);
    assert.ok(bridge!.refusedOrigins.includes('http://evil.example'));
  });
});

describe('the sign-in form under a managed, locked proxy', { skip, timeout: 120_000 }, () => {
  let proxy: ProxyFixture | undefined;
  let target: { port: number; server: net.Server } | undefined;
  let bridge: BridgeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let engine: ClientEngine | undefined;
  let unlockedView: SettingsView | undefined;
  const problems = { csp: [] as string[], errors: [] as string[] };
  /** The code of every sign-in main refused, as the window received it. */
  const refusals: string[] = [];
  const service = `latch-browser-managed-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'latch-browser-managed-'));

  before(async () => {
    assert.ok(process.env['DBUS_SESSION_BUS_ADDRESS'], 'DBUS_SESSION_BUS_ADDRESS is not set: run under `npm test` (scripts/desktop-env.mjs starts the keychain)');
    mkdirSync(ARTIFACTS, { recursive: true });
    const { staticDir, bridgeScript } = await buildOnce();
    target = await startEchoTarget();
    proxy = await startProxyFixture({
      resources: [{ id: 'echo', target: `127.0.0.1:${target.port}` }],
      policy: { idleTimeout: '5m', warnBefore: '1m', maxDuration: '10m', maxRenewals: 3 },
      user: USER,
    });
    // What an administrator's policy.json says, read through the same checks and wired the same
    // way as main.ts does with readManagedPolicy()'s result.
    const { policy, problems: policyProblems } = validatePolicy({ proxyUrl: proxy.url, caFingerprint: proxy.fingerprint, lockProxy: true }, 'test policy.json');
    assert.deepEqual(policyProblems, []);
    const settings = new DesktopSettingsStore({
      dir: join(work, 'settings'),
      managed: managedSettings(policy),
      managedLeadBounds: managedLeadBounds(policy),
      managedProxy: policy,
      applyStartAtLogin: () => undefined,
    });
    await settings.load();
    // What main sends for the same policy without lockProxy (for the last case).
    const unlocked = new DesktopSettingsStore({ dir: join(work, 'settings-unlocked'), managed: {}, managedProxy: { ...policy, lockProxy: false }, applyStartAtLogin: () => undefined });
    unlockedView = await unlocked.load();
    engine = new ClientEngine({ store: new KeyringCredentialStore({ service }), profiles: new ProfileStore(join(work, 'client')), idle: new NoneIdleSource(), notifier: new RecordingNotifier() });
    await engine.start();
    const handlers: IpcHandlers = createIpcHandlers({ engine, settings, writeClipboard: () => Promise.resolve(), checkSignIn: (request) => checkSignInAllowed(policy, request) });
    const signIn = handlers['session:signIn'];
    handlers['session:signIn'] = async (request) => {
      try {
        return await signIn(request);
      } catch (err) {
        refusals.push(toSerializedError(err).code);
        throw err;
      }
    };
    bridge = await startBridgeServer({ staticDir, handlers, onUnexpected: (ch, err) => problems.errors.push(`${ch}: ${String(err)}`) });
    forwardToWindow(engine, settings, bridge);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
    page = await openWindow(browser, bridge.url, bridgeScript, problems);
  });

  after(() => closeAll({ browser, engine, bridge, proxy, target, service, work }));

  test('the password form shows the proxy pre-filled, read-only, with the administrator note', async () => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByRole('radio', { name: 'User and password' }).check();
    const url = page.getByRole('textbox', { name: 'Proxy URL' });
    const fingerprint = page.getByRole('textbox', { name: 'CA fingerprint' });
    // The view arrives through settings:get: wait for it, bounded by the page's step timeout.
    await waitUntil('the managed proxy URL in the form', async () => (await url.inputValue()) === proxy!.url);
    assert.equal(await url.inputValue(), proxy!.url);
    assert.equal(await fingerprint.inputValue(), proxy!.fingerprint);
    const note = page.locator('#managed-proxy-note');
    assert.equal(await note.isVisible(), true);
    assert.equal((await note.innerText()).trim(), 'Set by your administrator');
    await state(page, 'signin-managed');
    await page.emulateMedia({ colorScheme: 'dark' });
    await state(page, 'signin-managed-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    for (const field of [url, fingerprint]) {
      // Read-only, not disabled: focusable and read out, but typing changes nothing.
      assert.equal(await field.getAttribute('readonly'), '');
      assert.equal(await field.isDisabled(), false);
      assert.equal(await field.isEditable(), false);
      assert.equal(await field.getAttribute('aria-describedby'), 'managed-proxy-note');
      await field.focus();
      await page.keyboard.type('x');
    }
    assert.equal(await url.inputValue(), proxy!.url);
    assert.equal(await fingerprint.inputValue(), proxy!.fingerprint);
    // The user's own fields stay editable.
    assert.equal(await page.getByLabel('User', { exact: true }).isEditable(), true);
  });

  test('an enrollment link to another proxy is refused with POLICY_LOCKED, shown like other sign-in errors', async () => {
    await page.getByRole('radio', { name: 'Enrollment link' }).check();
    // A real link of this proxy's, pointed at another address (the echo target: not a proxy).
    const link = new URL(proxy!.enroll(USER.name));
    const other = new URL(link.searchParams.get('proxy') ?? '');
    other.port = String(target!.port);
    link.searchParams.set('proxy', other.origin);
    await page.getByRole('textbox', { name: 'Enrollment link' }).fill(link.href);
    assert.match(await page.locator('#link-help').innerText(), new RegExp(`allows only links to ${proxy!.url.replaceAll('.', '\\.')}`));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), new RegExp(`allows sign-in only to ${proxy!.url.replaceAll('.', '\\.')}`));
    assert.deepEqual(refusals, [ErrorCode.POLICY_LOCKED]);
    // Refused in main before the engine tried anything.
    assert.equal(engine!.snapshot().phase, 'signed-out');
    assert.equal(engine!.snapshot().session, null);
    await state(page, 'signin-managed-refused');
  });

  test('sign-in with user and password succeeds against the locked proxy', async () => {
    await page.getByRole('radio', { name: 'User and password' }).check();
    assert.equal(await page.getByRole('textbox', { name: 'Proxy URL' }).inputValue(), proxy!.url);
    await page.getByLabel('User', { exact: true }).fill(USER.name);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Session' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    assert.equal(engine!.snapshot().session?.proxyUrl, proxy!.url);
    assert.equal(engine!.snapshot().session?.user, USER.name);
    assert.deepEqual(refusals, [ErrorCode.POLICY_LOCKED]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out', exact: true }).waitFor();
    assert.deepEqual(problems, { csp: [], errors: [] });
  });

  test('without the lock the values are only pre-filled: editable, no note', async () => {
    await page.getByRole('button', { name: 'Sign in again' }).click();
    await page.getByRole('radio', { name: 'User and password' }).check();
    const url = page.getByRole('textbox', { name: 'Proxy URL' });
    await waitUntil('the proxy URL read-only', async () => (await url.getAttribute('readonly')) !== null);
    assert.ok(unlockedView?.managedProxy && !unlockedView.managedProxy.locked);
    bridge!.emit('settings:changed', unlockedView);
    await waitUntil('the proxy URL editable', async () => (await url.getAttribute('readonly')) === null);
    assert.equal(await url.inputValue(), proxy!.url);
    assert.equal(await page.getByRole('textbox', { name: 'CA fingerprint' }).inputValue(), proxy!.fingerprint);
    assert.equal(await url.getAttribute('aria-describedby'), null);
    assert.equal(await page.locator('#managed-proxy-note').count(), 0);
    await url.fill('https://127.0.0.1:1');
    assert.equal(await url.inputValue(), 'https://127.0.0.1:1');
    await state(page, 'signin-managed-unlocked');
    assert.deepEqual(problems, { csp: [], errors: [] });
  });
});
