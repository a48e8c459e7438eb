/**
 * Time as the session engine sees it. Two readings on purpose (DESIGN.md, "Fail closed"): the
 * wall clock can be set or jump, and the monotonic clock stops while a laptop is suspended on
 * Linux and macOS. Elapsed.ts combines them; timers run on the monotonic clock, as Node's do.
 */
import { ErrorCode, LatchError } from '../../../common/errors.ts';

declare const timerBrand: unique symbol;

/** Opaque handle of a timer armed through a Clock. */
export interface TimerHandle {
  readonly [timerBrand]: true;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch (Date.now()). */
  wallNow(): number;
  /** Monotonic milliseconds from an arbitrary origin; never goes back. */
  monotonicNow(): number;
  /** Calls fn once after ms milliseconds of monotonic time. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Disarms a timer; harmless for one that already fired or was cleared. */
  clearTimer(handle: TimerHandle): void;
}

/** setTimeout's ceiling; longer delays fire at once in Node, so callers re-arm instead. */
export const MAX_TIMER_MS = 2_147_483_647;

function clampDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(ms, MAX_TIMER_MS);
}

/** The real clocks: Date.now() and performance.now() (CLOCK_MONOTONIC through libuv). */
export const systemClock: Clock = {
  wallNow: () => Date.now(),
  monotonicNow: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, clampDelay(ms)) as unknown as TimerHandle,
  clearTimer: (handle) => {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

interface ManualTimer {
  id: number;
  due: number;
  fn: () => void;
}

/** Bounds the timers one advance may fire, so a timer that re-arms at 0 ms cannot spin forever. */
const MAX_FIRES_PER_ADVANCE = 100_000;

/**
 * A clock for tests. Wall and monotonic time move separately: advance() moves both (time
 * passing normally), suspend() moves only the wall clock (a laptop asleep: monotonic stops),
 * setWall()/advanceWall() with a negative step set the wall clock back. Timers run on the
 * monotonic reading and fire in due order (then arming order) during advance().
 */
export class ManualClock implements Clock {
  #wall: number;
  #mono: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  constructor(start: { wall?: number; monotonic?: number } = {}) {
    this.#wall = start.wall ?? Date.UTC(2025, 0, 6, 9, 0, 0);
    this.#mono = start.monotonic ?? 1_000;
  }

  wallNow(): number {
    return this.#wall;
  }

  monotonicNow(): number {
    return this.#mono;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { id: this.#nextId++, due: this.#mono + clampDelay(ms), fn };
    this.#timers.push(timer);
    return { id: timer.id } as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    const id = (handle as unknown as { id: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Timers armed and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Milliseconds until the next timer is due, or undefined when none is armed. */
  nextTimerIn(): number | undefined {
    if (this.#timers.length === 0) return undefined;
    return Math.max(0, Math.min(...this.#timers.map((t) => t.due)) - this.#mono);
  }

  /** Normal time passing: both clocks move by ms, and every timer due on the way fires at its time. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new LatchError(ErrorCode.USAGE, `advance(${ms}): time only moves forward`);
    const end = this.#mono + ms;
    for (let fired = 0; ; fired++) {
      if (fired >= MAX_FIRES_PER_ADVANCE) throw new LatchError(ErrorCode.INTERNAL, 'ManualClock: too many timers fired in one advance');
      const next = this.#earliestDue(end);
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#step(next.due - this.#mono);
      next.fn();
    }
    this.#step(end - this.#mono);
  }

  /** Both clocks move together; a timer already overdue (armed at 0 ms) fires without moving them. */
  #step(ms: number): void {
    if (ms <= 0) return;
    this.#mono += ms;
    this.#wall += ms;
  }

  /** Fires the next armed timer (moving both clocks to it); false when none is armed. */
  advanceToNextTimer(): boolean {
    const wait = this.nextTimerIn();
    if (wait === undefined) return false;
    this.advance(wait);
    return true;
  }

  /** A suspend of ms: the wall clock jumps forward, the monotonic clock does not move, no timer fires. */
  suspend(ms: number): void {
    if (!(ms >= 0)) throw new LatchError(ErrorCode.USAGE, `suspend(${ms}): a suspend lasts zero or more ms`);
    this.#wall += ms;
  }

  /** Moves only the wall clock, forward or (negative ms) back, as a user or NTP setting the time. */
  advanceWall(ms: number): void {
    this.#wall += ms;
  }

  setWall(epochMs: number): void {
    this.#wall = epochMs;
  }

  #earliestDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.due <= limit && (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id))) best = t;
    }
    return best;
  }
}
