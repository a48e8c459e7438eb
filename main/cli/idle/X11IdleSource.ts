import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from '../../core/idle/IdleSource.ts';
import { runCommand } from './runCommand.ts';
import type { LockProbe } from './ScreenSaverLockProbe.ts';
import type { LoopedCommands } from './CommandLoop.ts';

export interface X11IdleSourceOptions {
  /** Must hold DISPLAY; also XAUTHORITY where the display needs it. */
  env: NodeJS.ProcessEnv;
  /** The xprintidle binary (Debian package xprintidle). */
  xprintidle: string;
  /** Bound on one xprintidle run (and one lock query). */
  timeoutMs: number;
  /** Screen lock; null: none known, read as unlocked. */
  lockProbe: LockProbe | null;
  /** Runs xprintidle in a long-lived shell (no fork of this process per sample); closed with the source. */
  commands: LoopedCommands | null;
}

export function defaultX11IdleSourceOptions(): X11IdleSourceOptions {
  return { env: process.env, xprintidle: 'xprintidle', timeoutMs: 2_000, lockProbe: null, commands: null };
}

/** xprintidle prints the XScreenSaver extension's idle time in milliseconds, one line. */
export function parseXprintidle(stdout: string): number | undefined {
  const text = stdout.trim();
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Idle time from the X server's XScreenSaver extension, read with xprintidle. Right for X11
 * sessions; under Wayland it sees only X clients' input, so createIdleSource picks Mutter there.
 */
export class X11IdleSource implements IdleSource {
  readonly kind = 'x11';
  readonly #options: X11IdleSourceOptions;
  #closed = false;

  constructor(options: Partial<X11IdleSourceOptions> = {}) {
    this.#options = { ...defaultX11IdleSourceOptions(), ...options };
    if (!this.#options.env.DISPLAY) {
      throw new LatchError(ErrorCode.IDLE_UNAVAILABLE, 'idle source x11 needs an X display: DISPLAY is not set');
    }
    if (!(this.#options.timeoutMs > 0)) throw new LatchError(ErrorCode.CONFIG, 'X11IdleSource: timeoutMs must be positive');
  }

  get display(): string {
    return this.#options.env.DISPLAY ?? '';
  }

  async sample(): Promise<IdleSample> {
    if (this.#closed) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source x11 is closed');
    const { env, xprintidle, timeoutMs, lockProbe, commands } = this.#options;
    const run = commands?.run ?? runCommand;
    const [res, locked] = await Promise.all([run(xprintidle, [], { env, timeoutMs }), lockProbe ? lockProbe.locked() : Promise.resolve(false)]);
    if (!res.ok) {
      throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `xprintidle on display ${this.display} failed: ${res.detail}`);
    }
    const idleMs = parseXprintidle(res.stdout);
    if (idleMs === undefined) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `xprintidle printed no idle time: ${JSON.stringify(res.stdout.slice(0, 100))}`);
    return { idleMs, locked };
  }

  close(): void {
    this.#closed = true;
    this.#options.commands?.close();
  }
}
