import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from '../../core/idle/IdleSource.ts';
import { dbusCall, dbusErrorName, hasSessionBus, parseDbusUint, type DbusTool } from './dbusCli.ts';
import type { LockProbe } from './ScreenSaverLockProbe.ts';
import type { LoopedCommands } from './CommandLoop.ts';

export const MUTTER_IDLE_MONITOR = {
  dest: 'org.gnome.Mutter.IdleMonitor',
  path: '/org/gnome/Mutter/IdleMonitor/Core',
  method: 'org.gnome.Mutter.IdleMonitor.GetIdletime',
} as const;

export interface MutterIdleSourceOptions {
  /** gdbus or dbus-send (see findDbusTool). */
  tool: DbusTool;
  /** Must reach the session bus (DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR/bus). */
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  lockProbe: LockProbe | null;
  /** Runs the D-Bus client in long-lived shells (no fork of this process per sample); closed with the source. */
  commands: LoopedCommands | null;
}

/**
 * Idle time from GNOME's compositor (org.gnome.Mutter.IdleMonitor.GetIdletime on the session
 * bus): right under GNOME on Wayland, where the X server sees only X clients' input.
 */
export class MutterIdleSource implements IdleSource {
  readonly kind = 'mutter';
  readonly #options: MutterIdleSourceOptions;
  #closed = false;

  constructor(options: Pick<MutterIdleSourceOptions, 'tool'> & Partial<MutterIdleSourceOptions>) {
    this.#options = { env: process.env, timeoutMs: 2_000, lockProbe: null, commands: null, ...options };
    if (!hasSessionBus(this.#options.env)) {
      throw new LatchError(ErrorCode.IDLE_UNAVAILABLE, 'idle source mutter needs the session bus: DBUS_SESSION_BUS_ADDRESS is not set and XDG_RUNTIME_DIR/bus does not exist');
    }
    if (!(this.#options.timeoutMs > 0)) throw new LatchError(ErrorCode.CONFIG, 'MutterIdleSource: timeoutMs must be positive');
  }

  async sample(): Promise<IdleSample> {
    if (this.#closed) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source mutter is closed');
    const { tool, env, timeoutMs, lockProbe, commands } = this.#options;
    const [res, locked] = await Promise.all([dbusCall(tool, MUTTER_IDLE_MONITOR, env, timeoutMs, commands?.run), lockProbe ? lockProbe.locked() : Promise.resolve(false)]);
    if (!res.ok) {
      const name = dbusErrorName(res.stderr);
      const why = name === 'org.freedesktop.DBus.Error.ServiceUnknown' || name === 'org.freedesktop.DBus.Error.NameHasNoOwner' ? 'GNOME Shell (Mutter) is not running on this session bus' : res.detail;
      throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `${MUTTER_IDLE_MONITOR.method} failed: ${why}`);
    }
    const idleMs = parseDbusUint(res.stdout);
    if (idleMs === undefined) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `unexpected reply from ${MUTTER_IDLE_MONITOR.method}: ${res.stdout.trim().slice(0, 200)}`);
    return { idleMs, locked };
  }

  close(): void {
    this.#closed = true;
    this.#options.commands?.close();
  }
}
