// The desktop app's composition root: Electron's seams (Tray, Menu, Notification, powerMonitor,
// ipcMain, clipboard, BrowserWindow) wired to the one client engine of main/core. Everything with
// logic lives in the small modules next to this file and is unit-tested there; this file only
// connects them. Built into dist/electron/main.mjs by main/electron/build.ts.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, clipboard, ipcMain, Menu, Notification, powerMonitor, session, Tray } from 'electron';
import type { IpcMainInvokeEvent } from 'electron';
import electronUpdater from 'electron-updater';
import type { EngineSnapshot } from '../../common/engineState.ts';
import type { EventChannel, EventContract } from '../../common/ipc.ts';
import { ClientEngine } from '../core/ClientEngine.ts';
import { KeyringCredentialStore } from '../core/KeyringCredentialStore.ts';
import { configDir, ProfileStore } from '../core/Profile.ts';
import { SuspendAwareIdleSource } from '../core/idle/SuspendAwareIdleSource.ts';
import { DesktopSettingsStore } from './DesktopSettingsStore.ts';
import { EarlyWarning } from './EarlyWarning.ts';
import { ElectronIdleSource, forwardPowerEvents } from './ElectronIdleSource.ts';
import { ElectronNotifier } from './ElectronNotifier.ts';
import type { NotificationInit } from './ElectronNotifier.ts';
import { createIpcHandlers } from './IpcHandlers.ts';
import { registerIpc } from './IpcRouter.ts';
import { RotatingLog } from './RotatingLog.ts';
import { TrayController } from './TrayController.ts';
import type { TrayMenuItem, TrayState } from './TrayController.ts';
import { findEnrollmentLink, isEnrollmentLink, PROTOCOL_SCHEME } from './deepLink.ts';
import { hardenContents, hardenSession } from './windowSecurity.ts';
import { checkSignInAllowed, managedLeadBounds, managedSettings, sessionAllowed } from './policy/enforcePolicy.ts';
import { readManagedPolicy } from './policy/readManagedPolicy.ts';
import { defaultUpdateOptions, UpdateController } from './UpdateController.ts';

const HERE = import.meta.dirname;
const RENDERER_INDEX = join(HERE, '..', 'renderer', 'index.html');
const PRELOAD = join(HERE, 'preload.cjs');
const ASSETS = join(HERE, '..', '..', 'assets');
const APP_URL = pathToFileURL(RENDERER_INDEX).href;
/** In memory only: nothing the window stores reaches the disk, and it is cleared at every end. */
const PARTITION = 'latch-window';
/** Argument the login item passes, so a start at login stays in the tray. */
const STARTED_AT_LOGIN = '--started-at-login';

interface E2eProbe {
  tray: { icon: string; tooltip: string; menu: TrayMenuItem[] };
  notifications: Array<{ init: NotificationInit; native: Notification }>;
}

function createProbe(): E2eProbe {
  const probe: E2eProbe = { tray: { icon: '', tooltip: '', menu: [] }, notifications: [] };
  Object.defineProperty(globalThis, 'latchE2eProbe', { value: probe });
  return probe;
}

function trayIcon(state: TrayState): string {
  // macOS template images follow the menu bar's light or dark appearance.
  return join(ASSETS, process.platform === 'darwin' ? `tray-${state}Template.png` : `tray-${state}.png`);
}

async function run(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  // electronegativity asks for a manual review of every protocol handler; the review is recorded
  // in test/electron/electronegativity.test.ts (REVIEWED), which also fails if this mark hides anything else.
  app.setAsDefaultProtocolClient(PROTOCOL_SCHEME); // eng-disable PROTOCOL_HANDLER_JS_CHECK
  const logFile = new RotatingLog({ dir: app.getPath('logs') });
  const log = (line: string): void => logFile.write('info', line);
  process.on('uncaughtException', (err) => logFile.write('error', `uncaught: ${err.stack ?? err.message}`));

  let pendingLink = findEnrollmentLink(process.argv);
  app.on('open-url', (event, url) => {
    event.preventDefault();
    if (isEnrollmentLink(url)) openEnrollment(url);
  });
  await app.whenReady();
  log(`Latch ${app.getVersion()} starting (Electron ${process.versions.electron ?? '?'})`);

  const windowSession = session.fromPartition(PARTITION);
  hardenSession(windowSession, log);

  // Managed configuration (docs/IT.md): what is broken is logged key by key, the rest applies.
  const { policy, problems } = await readManagedPolicy();
  for (const problem of problems) log(`managed policy ${problem.source}${problem.key === undefined ? '' : ` ${problem.key}`}: ${problem.message}`);
  const settings = new DesktopSettingsStore({
    dir: app.getPath('userData'),
    managed: managedSettings(policy),
    managedLeadBounds: managedLeadBounds(policy),
    // Shown on the sign-in form (pre-filled, read-only when locked); checkSignIn enforces it.
    managedProxy: policy,
    applyStartAtLogin: (enabled) => app.setLoginItemSettings({ openAtLogin: enabled, args: [STARTED_AT_LOGIN] }),
  });
  await settings.load();
  const updates = new UpdateController({ ...defaultUpdateOptions(), updater: electronUpdater.autoUpdater, policy, isPackaged: app.isPackaged, log });
  updates.start();

  // LATCH_E2E_PROBE=1 (the Electron test tier only): what the tray and notifications show, for
  // Playwright's electronApp.evaluate(). Read-only views plus the native objects' own events.
  const probe = process.env['LATCH_E2E_PROBE'] === '1' ? createProbe() : null;

  let quitting = false;
  let win: BrowserWindow | null = null;
  const notifier = new ElectronNotifier({
    createNotification: (init) => {
      const native = new Notification(init);
      probe?.notifications.push({ init, native });
      return native;
    },
    isSupported: () => Notification.isSupported(),
    platform: process.platform,
    icon: join(ASSETS, 'icon.png'),
    // Renew is the engine's; anything else (a click, "Sign in again") brings up the window.
    onActivated: (_request, actionId) => {
      if (actionId !== 'renew') showWindow();
    },
  });
  const idle = new SuspendAwareIdleSource(new ElectronIdleSource(powerMonitor));
  // Same keychain service and profile folder as the terminal client: one sign-in per device.
  const service = process.env['LATCH_KEYCHAIN_SERVICE'];
  const store = new KeyringCredentialStore(service === undefined || service === '' ? {} : { service });
  const engine = new ClientEngine({ store, profiles: new ProfileStore(configDir()), idle, notifier, offerSignInAgain: true });

  const send = <E extends EventChannel>(event: E, payload: EventContract[E]): void => {
    if (win && !win.isDestroyed()) win.webContents.send(event, payload);
  };
  const report = (what: string) => (err: unknown) => log(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);

  function createWindow(): BrowserWindow {
    const created = new BrowserWindow({
      width: 760,
      height: 760,
      minWidth: 420,
      minHeight: 480,
      show: false,
      title: 'Latch',
      icon: join(ASSETS, 'icon.png'),
      // Written out here (not spread from a helper) so electronegativity can read every flag.
      webPreferences: {
        // Manual-review check on any preload; reviewed in test/electron/electronegativity.test.ts.
        preload: PRELOAD, // eng-disable PRELOAD_JS_CHECK
        partition: PARTITION,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
        webviewTag: false,
        navigateOnDragDrop: false,
        safeDialogs: true,
        spellcheck: false,
        // Middle-click would open links in new windows; nothing in Latch needs it.
        disableBlinkFeatures: 'Auxclick',
      },
    });
    hardenContents(created.webContents, APP_URL, log);
    created.once('ready-to-show', () => created.show());
    // Closing the window leaves Latch in the tray; Quit is in the tray menu.
    created.on('close', (event) => {
      if (!quitting) {
        event.preventDefault();
        created.hide();
      }
    });
    created.on('closed', () => {
      if (win === created) win = null;
    });
    created.webContents.once('did-finish-load', () => {
      if (pendingLink !== undefined) {
        send('enrollment:opened', { link: pendingLink });
        pendingLink = undefined;
      }
    });
    void created.loadFile(RENDERER_INDEX);
    return created;
  }

  function showWindow(): void {
    win ??= createWindow();
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  }

  function openEnrollment(link: string): void {
    if (win && !win.isDestroyed() && !win.webContents.isLoading()) {
      send('enrollment:opened', { link });
    } else {
      pendingLink = link;
    }
    if (app.isReady()) showWindow();
  }

  app.on('second-instance', (_event, argv) => {
    const link = findEnrollmentLink(argv);
    if (link !== undefined) openEnrollment(link);
    else showWindow();
  });

  const handlers = createIpcHandlers({ engine, settings, writeClipboard: (text) => clipboard.writeText(text), checkSignIn: (request) => checkSignInAllowed(policy, request) });
  registerIpc({
    ipcMain,
    handlers,
    senderOf: (event: IpcMainInvokeEvent) => ({
      webContentsId: event.sender.id,
      frameUrl: event.senderFrame?.url,
      isMainFrame: event.senderFrame !== null && event.senderFrame.parent === null,
    }),
    trustedWebContents: () => (win && !win.isDestroyed() ? [win.webContents.id] : []),
    appUrl: APP_URL,
    log,
  });

  const tray = new TrayController(engine.snapshot(), {
    createTray: (icon) => {
      const created = new Tray(icon);
      if (!probe) return created;
      probe.tray.icon = icon;
      return {
        setImage: (image: string) => {
          probe.tray.icon = image;
          created.setImage(image);
        },
        setToolTip: (text: string) => {
          probe.tray.tooltip = text;
          created.setToolTip(text);
        },
        setContextMenu: (menu: unknown) => created.setContextMenu(menu as Menu),
        on: (event: 'click', listener: () => void) => created.on(event, listener),
        destroy: () => created.destroy(),
      };
    },
    buildMenu: (template: TrayMenuItem[]) => {
      if (probe) probe.tray.menu = template;
      return Menu.buildFromTemplate(template);
    },
    iconFor: trayIcon,
    now: () => performance.now(),
    tickMs: 1000,
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
    actions: {
      connect: (id) => void engine.connect(id).catch(report(`connect ${id}`)),
      disconnect: (id) => void engine.disconnect(id).catch(report(`disconnect ${id}`)),
      copyAddress: (id) => {
        const tunnel = engine.snapshot().tunnels.find((t) => t.resourceId === id);
        if (tunnel) void clipboard.writeText(`${tunnel.host}:${tunnel.port}`).catch(report('copying the address'));
      },
      renew: () => void engine.renew().catch(report('renew')),
      openWindow: showWindow,
      signOut: () => void engine.signOut().catch(report('sign out')),
      quit: () => app.quit(),
    },
  });

  const earlyWarning = new EarlyWarning({ notifier, settings, renew: () => engine.renew(), log });
  let lastPhase: EngineSnapshot['phase'] = engine.snapshot().phase;
  engine.on('changed', (snapshot) => {
    tray.update(snapshot);
    settings.setPolicy(snapshot.session?.policy ?? null);
    earlyWarning.update(snapshot);
    send('session:changed', snapshot);
    if (snapshot.phase !== lastPhase) {
      log(`phase ${lastPhase} → ${snapshot.phase}${snapshot.ended ? ` (${snapshot.ended.reason})` : ''}`);
      // An ended session leaves nothing behind in the window either.
      if (snapshot.phase === 'ended') void windowSession.clearStorageData().catch(report('clearing window storage'));
      lastPhase = snapshot.phase;
    }
  });
  settings.onChange((view) => send('settings:changed', view));
  const stopPowerEvents = forwardPowerEvents(powerMonitor, (event) => {
    log(`system ${event}`);
    engine.systemEvent(event);
  });

  app.on('window-all-closed', () => {
    // A tray app stays running without windows.
  });
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    stopPowerEvents();
    earlyWarning.close();
    tray.destroy();
    void engine
      .close()
      .catch(report('closing the engine'))
      .finally(() => {
        idle.close();
        void notifier.close().finally(() => {
          if (!updates.installDownloaded()) app.exit(0);
        });
      });
  });

  await engine.start().catch(report('restoring the session'));
  if (!sessionAllowed(policy, engine.snapshot().session)) {
    log('the restored session uses a proxy the managed policy does not allow: signing out');
    await engine.signOut().catch(report('signing out'));
  }
  // Started at login: stay in the tray unless there is something to do in the window.
  const atLogin = process.argv.includes(STARTED_AT_LOGIN) || app.getLoginItemSettings().wasOpenedAtLogin;
  if (!atLogin || pendingLink !== undefined || engine.snapshot().session === null) showWindow();
}

run().catch((err: unknown) => {
  process.stderr.write(`Latch failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  app.exit(1);
});
