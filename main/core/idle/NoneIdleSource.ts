import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from './IdleSource.ts';

export interface NoneIdleSourceOptions {
  /** Monotonic milliseconds; injectable for tests. */
  now: () => number;
  /** Wall-clock milliseconds: keeps counting while the machine is suspended. */
  wallNow: () => number;
}

export function defaultNoneIdleSourceOptions(): NoneIdleSourceOptions {
  return { now: () => performance.now(), wallNow: () => Date.now() };
}

/**
 * Idle source `none`: no OS input is watched, only explicit renewals count (`latch renew`, the
 * `r` key, the notification's Renew action). Idle time is the time since the last markActive(),
 * starting at construction, so a user who never renews reaches the idle deadline as if away.
 * Elapsed time is the larger of monotonic and wall-clock elapsed, so a suspend counts as idle.
 */
export class NoneIdleSource implements IdleSource {
  readonly kind = 'none';
  readonly #now: () => number;
  readonly #wallNow: () => number;
  #lastActive: number;
  #lastActiveWall: number;
  #closed = false;

  constructor(options: Partial<NoneIdleSourceOptions> = {}) {
    const merged = { ...defaultNoneIdleSourceOptions(), ...options };
    if (typeof merged.now !== 'function' || typeof merged.wallNow !== 'function') throw new LatchError(ErrorCode.CONFIG, 'NoneIdleSource: now and wallNow must be functions');
    this.#now = merged.now;
    this.#wallNow = merged.wallNow;
    this.#lastActive = this.#now();
    this.#lastActiveWall = this.#wallNow();
  }

  /** Records an explicit sign of presence (a renew). */
  markActive(): void {
    this.#lastActive = this.#now();
    this.#lastActiveWall = this.#wallNow();
  }

  sample(): Promise<IdleSample> {
    if (this.#closed) return Promise.reject(new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source none is closed'));
    const elapsed = Math.max(this.#now() - this.#lastActive, this.#wallNow() - this.#lastActiveWall);
    return Promise.resolve({ idleMs: Math.max(0, Math.round(elapsed)), locked: false });
  }

  close(): void {
    this.#closed = true;
  }
}
