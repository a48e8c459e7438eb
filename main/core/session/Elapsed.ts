import type { Clock } from './Clock.ts';

/**
 * Time elapsed since a mark, failing closed both ways (DESIGN.md, "Fail closed"): the larger of
 * monotonic and wall-clock elapsed. The monotonic clock stops while a laptop is suspended (Linux,
 * macOS), so the wall clock catches the sleep; the wall clock can be set back, so the monotonic
 * clock keeps counting. The reading never decreases: a wall clock that jumped forward and then
 * back does not give time back.
 */
export class Elapsed {
  readonly #clock: Clock;
  readonly #wall0: number;
  readonly #mono0: number;
  #highWater = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#wall0 = clock.wallNow();
    this.#mono0 = clock.monotonicNow();
  }

  /** Milliseconds since construction: max(monotonic elapsed, wall elapsed, every earlier reading). */
  ms(): number {
    const mono = this.#clock.monotonicNow() - this.#mono0;
    const wall = this.#clock.wallNow() - this.#wall0;
    this.#highWater = Math.max(this.#highWater, mono, wall);
    return this.#highWater;
  }
}

/** A remaining duration received at some moment, counted down with Elapsed. */
export class Countdown {
  readonly #since: Elapsed;
  readonly #remainingAtMark: number;

  constructor(clock: Clock, remainingMs: number) {
    this.#since = new Elapsed(clock);
    this.#remainingAtMark = remainingMs;
  }

  /** What is left now; zero or negative once the deadline has passed. */
  remainingMs(): number {
    return this.#remainingAtMark - this.#since.ms();
  }
}
