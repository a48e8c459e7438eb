import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from './IdleSource.ts';

export interface NoneIdleSourceOptions {
  /** Monotonic milliseconds; injectable for tests. */
  now: () => number;
}

export function defaultNoneIdleSourceOptions(): NoneIdleSourceOptions {
  return { now: () => performance.now() };
}

/**
 * Idle source `none`: no OS input is watched, only explicit renewals count (`latch renew`, the
 * `r` key, the notification's Renew action). Idle time is the time since the last markActive(),
 * starting at construction, so a user who never renews reaches the idle deadline as if away.
 */
export class NoneIdleSource implements IdleSource {
  readonly kind = 'none';
  readonly #now: () => number;
  #lastActive: number;
  #closed = false;

  constructor(options: Partial<NoneIdleSourceOptions> = {}) {
    const merged = { ...defaultNoneIdleSourceOptions(), ...options };
    if (typeof merged.now !== 'function') throw new LatchError(ErrorCode.CONFIG, 'NoneIdleSource: now must be a function');
    this.#now = merged.now;
    this.#lastActive = this.#now();
  }

  /** Records an explicit sign of presence (a renew). */
  markActive(): void {
    this.#lastActive = this.#now();
  }

  sample(): Promise<IdleSample> {
    if (this.#closed) return Promise.reject(new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source none is closed'));
    return Promise.resolve({ idleMs: Math.max(0, Math.round(this.#now() - this.#lastActive)), locked: false });
  }

  close(): void {
    this.#closed = true;
  }
}
