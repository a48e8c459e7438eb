import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../main/cli/idle/runCommand.ts';
import { DUNSTRC } from '../../scripts/desktopConfig.mjs';
import { waitForBusName } from './startDbus.ts';
import { stopper } from './startXvfb.ts';

export interface DunstHandle {
  pid: number;
  /** `dunstctl count displayed`. */
  countDisplayed(): Promise<number>;
  /** `dunstctl action POSITION`: runs the only action (or the default) of the displayed notification at POSITION. */
  action(position?: number): Promise<void>;
  /** Stops this dunst (by its PID) and removes its config. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts dunst as the notification daemon on the bus at `busAddress`, drawing on `display`.
 * Fails if another daemon already owns org.freedesktop.Notifications there: use a private bus
 * (startDbus({ reuse: false })) when the run's shared bus already has one.
 */
export async function startDunst(options: { busAddress: string; display: string; timeoutMs?: number }): Promise<DunstHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-dunst-'));
  const rc = join(dir, 'dunstrc');
  writeFileSync(rc, DUNSTRC);
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: options.busAddress, DISPLAY: options.display, XDG_CONFIG_HOME: dir };
  const owner = await runCommand('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.Notifications'], { env, timeoutMs: 2_000 });
  if (owner.ok && /boolean true/.test(owner.stdout)) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`org.freedesktop.Notifications already has an owner on ${options.busAddress}`);
  }
  const child = spawn('dunst', ['-config', rc], { env, stdio: 'ignore' });
  const stopChild = stopper(child);
  const stop = async () => {
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
  };
  const dunstctl = async (args: string[]) => {
    const res = await runCommand('dunstctl', args, { env, timeoutMs: 3_000 });
    if (!res.ok) throw new Error(`dunstctl ${args.join(' ')}: ${res.detail}`);
    return res.stdout;
  };
  try {
    const ownerPid = await waitForBusName(options.busAddress, 'org.freedesktop.Notifications', options.timeoutMs ?? 5_000);
    if (ownerPid !== child.pid) throw new Error(`org.freedesktop.Notifications is owned by PID ${ownerPid}, not our dunst ${child.pid}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid ?? -1,
    countDisplayed: async () => Number((await dunstctl(['count', 'displayed'])).trim()),
    action: async (position = 0) => {
      await dunstctl(['action', String(position)]);
    },
    stop,
  };
}
