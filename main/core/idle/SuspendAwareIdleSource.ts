import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from './IdleSource.ts';

export interface SuspendAwareIdleSourceOptions {
  /** Wall clock, ms (keeps running through suspend). */
  wallNow: () => number;
  /** Monotonic clock, ms (stops during suspend on Linux and macOS). */
  monoNow: () => number;
  /** A wall-minus-monotonic gap of at least this much between two samples is taken as a suspend. */
  minSuspendMs: number;
  /** Slack when deciding that the OS counter kept growing, i.e. that there was no input. */
  toleranceMs: number;
}

export function defaultSuspendAwareIdleSourceOptions(): SuspendAwareIdleSourceOptions {
  return { wallNow: () => Date.now(), monoNow: () => performance.now(), minSuspendMs: 2_000, toleranceMs: 500 };
}

/**
 * Makes suspend count as idle. The OS idle counters (X server, Mutter, IOKit) run on monotonic
 * clocks that stop while the machine sleeps, so after a wake without input they report the idle
 * time from before the suspend. This wrapper notices the suspend as a gap between wall-clock and
 * monotonic time since the previous sample and, as long as there has been no input since, adds
 * the time slept. Input after the wake (the counter fell back) means someone is here: the added
 * time is dropped. A wall clock set forward looks like a suspend and errs on the side of idle.
 */
export class SuspendAwareIdleSource implements IdleSource {
  readonly kind: string;
  readonly #inner: IdleSource;
  readonly #options: SuspendAwareIdleSourceOptions;
  #previous: { osIdleMs: number; wall: number; mono: number } | undefined;
  #sleptMs = 0;

  constructor(inner: IdleSource, options: Partial<SuspendAwareIdleSourceOptions> = {}) {
    this.#inner = inner;
    this.kind = inner.kind;
    this.#options = { ...defaultSuspendAwareIdleSourceOptions(), ...options };
    if (!(this.#options.minSuspendMs > 0) || !(this.#options.toleranceMs >= 0)) {
      throw new LatchError(ErrorCode.CONFIG, 'SuspendAwareIdleSource: minSuspendMs must be positive and toleranceMs not negative');
    }
  }

  /** Time slept (suspend) currently added to the OS idle time. */
  get sleptMs(): number {
    return this.#sleptMs;
  }

  async sample(): Promise<IdleSample> {
    const sample = await this.#inner.sample();
    const { wallNow, monoNow, minSuspendMs, toleranceMs } = this.#options;
    const wall = wallNow();
    const mono = monoNow();
    const previous = this.#previous;
    if (previous) {
      const monoElapsed = mono - previous.mono;
      const suspended = wall - previous.wall - monoElapsed;
      const noInput = sample.idleMs + toleranceMs >= previous.osIdleMs + monoElapsed;
      if (!noInput) this.#sleptMs = 0;
      else if (suspended >= minSuspendMs) this.#sleptMs += suspended;
    }
    this.#previous = { osIdleMs: sample.idleMs, wall, mono };
    return { idleMs: sample.idleMs + this.#sleptMs, locked: sample.locked };
  }

  close(): void {
    this.#inner.close();
  }
}
