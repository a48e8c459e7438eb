import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateHomeEnv } from '../../scripts/desktopConfig.mjs';
import { runChild, spawnChild } from './children.ts';
import { monitorNotifications } from './monitorNotifications.ts';
import type { NotificationMonitor } from './monitorNotifications.ts';
import { startDbus, waitForBusName } from './startDbus.ts';
import { startDunst } from './startDunst.ts';
import type { DunstHandle } from './startDunst.ts';
import { startXvfb } from './startXvfb.ts';

const KEYRING_PASSWORD = 'latch-e2e-keyring';

export interface PrivateDesktop {
  /** process.env with this desktop's HOME, XDG dirs, DBUS_SESSION_BUS_ADDRESS and DISPLAY. */
  env: NodeJS.ProcessEnv;
  display: string;
  busAddress: string;
  dunst: DunstHandle;
  /** dbus-monitor on this bus: every Notify call and ActionInvoked/NotificationClosed signal. */
  notifications: NotificationMonitor;
  /** Real X input (xdotool moves the pointer): resets the X server's idle time. */
  input(): Promise<void>;
  /** The X server's idle time in ms (xprintidle). */
  idleMs(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A desktop of one test's own: a private session bus with gnome-keyring's Secret Service on
 * it, an Xvfb display (its own idle clock), dunst and a dbus-monitor. Concurrent cases never see
 * each other's input, notifications or keychain. Everything is stopped by its PID.
 */
export async function startPrivateDesktop(): Promise<PrivateDesktop> {
  const root = mkdtempSync(join(tmpdir(), 'latch-desktop-'));
  const home = join(root, 'home');
  const runtime = join(root, 'run');
  mkdirSync(home, { recursive: true });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const baseEnv: NodeJS.ProcessEnv = { ...process.env, ...privateHomeEnv(home, runtime) };
    const bus = await startDbus({ reuse: false, env: baseEnv });
    stops.push(() => bus.stop());
    const xvfb = await startXvfb({ env: baseEnv });
    stops.push(() => xvfb.stop());
    const env: NodeJS.ProcessEnv = { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: bus.address, DISPLAY: xvfb.display };
    // --foreground keeps the daemon our child, so it is stopped by its own PID.
    const keyring = spawnChild('gnome-keyring-daemon', 'gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env, input: KEYRING_PASSWORD });
    stops.push(async () => {
      await keyring.stop(1_000);
    });
    const owner = await waitForBusName(bus.address, 'org.freedesktop.secrets', 10_000);
    if (owner !== keyring.pid) throw new Error(`org.freedesktop.secrets is owned by PID ${owner}, not our gnome-keyring ${keyring.pid}`);
    const dunst = await startDunst({ busAddress: bus.address, display: xvfb.display });
    stops.push(() => dunst.stop());
    const notifications = await monitorNotifications(bus.address);
    stops.push(() => notifications.stop());
    const x = async (command: string, args: string[]): Promise<string> => {
      const r = await runChild(command, command, args, { env, timeoutMs: 5_000 });
      if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    let step = 1;
    return {
      env,
      display: xvfb.display,
      busAddress: bus.address,
      dunst,
      notifications,
      input: async () => {
        step = -step;
        await x('xdotool', ['mousemove_relative', '--', String(step), String(step)]);
      },
      idleMs: async () => Number((await x('xprintidle', [])).trim()),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
