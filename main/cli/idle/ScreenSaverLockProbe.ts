import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { dbusCall, dbusErrorName, parseDbusBool, type DbusTool } from './dbusCli.ts';
import { runCommand } from './runCommand.ts';
import type { CommandRunner } from './CommandLoop.ts';

/** Tells whether the screen is locked. */
export interface LockProbe {
  locked(): Promise<boolean>;
}

interface ScreenSaverService {
  name: string;
  path: string;
  method: string;
}

/** The services that answer GetActive (true while the screensaver/lock screen is up), in the order asked. */
export const SCREENSAVER_SERVICES: readonly ScreenSaverService[] = [
  { name: 'org.gnome.ScreenSaver', path: '/org/gnome/ScreenSaver', method: 'org.gnome.ScreenSaver.GetActive' },
  { name: 'org.freedesktop.ScreenSaver', path: '/org/freedesktop/ScreenSaver', method: 'org.freedesktop.ScreenSaver.GetActive' },
];

// A service that lacks GetActive at the spec's path cannot tell us about the lock: treat it as
// absent rather than failing every sample.
const NOT_PROVIDED = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.UnknownMethod',
  'org.freedesktop.DBus.Error.UnknownObject',
  'org.freedesktop.DBus.Error.UnknownInterface',
]);

export interface ScreenSaverLockProbeOptions {
  tool: DbusTool;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Which screensaver service is present is looked up again after this long (one may start later). */
  recheckMs: number;
  now: () => number;
  /** How the D-Bus client is run (LoopedCommands.run keeps it in a long-lived shell). */
  run: CommandRunner;
}

/**
 * Lock state from the session's screensaver over D-Bus (GNOME's org.gnome.ScreenSaver, or the
 * freedesktop org.freedesktop.ScreenSaver that KDE, Xfce and others own). With neither present
 * the screen reads as unlocked; idle time still grows while locked, as no input arrives.
 * Presence is checked with NameHasOwner so that no screensaver gets D-Bus-activated by asking.
 */
export class ScreenSaverLockProbe implements LockProbe {
  readonly #options: ScreenSaverLockProbeOptions;
  #service: ScreenSaverService | null = null;
  #checkedAt = Number.NEGATIVE_INFINITY;

  constructor(options: Pick<ScreenSaverLockProbeOptions, 'tool' | 'env'> & Partial<ScreenSaverLockProbeOptions>) {
    this.#options = { timeoutMs: 2_000, recheckMs: 10_000, now: () => performance.now(), run: runCommand, ...options };
  }

  async locked(): Promise<boolean> {
    const service = await this.#currentService();
    if (!service) return false;
    const { tool, env, timeoutMs, run } = this.#options;
    const res = await dbusCall(tool, { dest: service.name, path: service.path, method: service.method }, env, timeoutMs, run);
    if (!res.ok) {
      const name = dbusErrorName(res.stderr);
      if (name !== undefined && NOT_PROVIDED.has(name)) {
        this.#service = null;
        return false;
      }
      throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `screen lock query to ${service.name} failed: ${res.detail}`);
    }
    const active = parseDbusBool(res.stdout);
    if (active === undefined) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `unexpected reply from ${service.method}: ${res.stdout.trim().slice(0, 200)}`);
    return active;
  }

  async #currentService(): Promise<ScreenSaverService | null> {
    const { tool, env, timeoutMs, recheckMs, now, run } = this.#options;
    if (now() - this.#checkedAt < recheckMs) return this.#service;
    let found: ScreenSaverService | null = null;
    for (const service of SCREENSAVER_SERVICES) {
      const res = await dbusCall(
        tool,
        { dest: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', method: 'org.freedesktop.DBus.NameHasOwner', args: [service.name] },
        env,
        timeoutMs,
        run,
      );
      const owned = res.ok ? parseDbusBool(res.stdout) : undefined;
      if (owned === undefined) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `could not ask the session bus for ${service.name}: ${res.ok ? res.stdout.trim() : res.detail}`);
      if (owned) {
        found = service;
        break;
      }
    }
    this.#service = found;
    this.#checkedAt = now();
    return found;
  }
}
