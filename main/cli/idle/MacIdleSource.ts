import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from '../../core/idle/IdleSource.ts';
import { runCommand } from './runCommand.ts';

export interface MacIdleSourceOptions {
  env: NodeJS.ProcessEnv;
  /** /usr/sbin/ioreg ships with macOS. */
  ioreg: string;
  timeoutMs: number;
}

export function defaultMacIdleSourceOptions(): MacIdleSourceOptions {
  return { env: process.env, ioreg: '/usr/sbin/ioreg', timeoutMs: 2_000 };
}

export const IOREG_IDLE_ARGS = ['-c', 'IOHIDSystem', '-r', '-d', '1'] as const;
export const IOREG_ROOT_ARGS = ['-n', 'Root', '-d', '1'] as const;

/**
 * The property line `"HIDIdleTime" = 1553083000` (nanoseconds since the last HID input) →
 * milliseconds. Only a line of its own counts, not a same-named key inside a nested dictionary.
 */
export function parseHidIdleTime(ioregText: string): number | undefined {
  const match = /^[\s|]*"HIDIdleTime" = (\d+)\s*$/m.exec(ioregText);
  if (!match?.[1]) return undefined;
  return Number(BigInt(match[1]) / 1_000_000n);
}

/**
 * Lock state from the console session in `ioreg -n Root -d1` (IOConsoleUsers). macOS writes
 * `"CGSSessionScreenIsLocked"=Yes` into the console user's entry while the screen is locked and
 * leaves the key out otherwise; Apple does not document it and some releases have not written it
 * at all. So Yes is believed and anything else reads as unlocked: a missed lock still shows as
 * growing idle time, since a locked Mac gets no input.
 */
export function parseMacScreenLocked(ioregText: string): boolean {
  const line = /"IOConsoleUsers"\s*=\s*\((.*)\)/.exec(ioregText)?.[1];
  if (line === undefined) return false;
  const sessions = line.split(/\}\s*,\s*\{/);
  const onConsole = sessions.find((s) => /"kCGSSessionOnConsoleKey"\s*=\s*Yes/.test(s));
  return onConsole !== undefined && /"CGSSessionScreenIsLocked"\s*=\s*Yes/.test(onConsole);
}

/** Idle time from IOKit's HIDIdleTime via `ioreg`, which every macOS has; no native module. */
export class MacIdleSource implements IdleSource {
  readonly kind = 'macos';
  readonly #options: MacIdleSourceOptions;
  #closed = false;

  constructor(options: Partial<MacIdleSourceOptions> = {}) {
    this.#options = { ...defaultMacIdleSourceOptions(), ...options };
    if (!(this.#options.timeoutMs > 0)) throw new LatchError(ErrorCode.CONFIG, 'MacIdleSource: timeoutMs must be positive');
  }

  async sample(): Promise<IdleSample> {
    if (this.#closed) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source macos is closed');
    const { env, ioreg, timeoutMs } = this.#options;
    const [idle, root] = await Promise.all([runCommand(ioreg, IOREG_IDLE_ARGS, { env, timeoutMs }), runCommand(ioreg, IOREG_ROOT_ARGS, { env, timeoutMs })]);
    if (!idle.ok) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `ioreg failed: ${idle.detail}`);
    if (!root.ok) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `ioreg failed: ${root.detail}`);
    const idleMs = parseHidIdleTime(idle.stdout);
    if (idleMs === undefined) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'ioreg printed no HIDIdleTime for IOHIDSystem');
    return { idleMs, locked: parseMacScreenLocked(root.stdout) };
  }

  close(): void {
    this.#closed = true;
  }
}
