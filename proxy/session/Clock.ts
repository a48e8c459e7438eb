import { performance } from 'node:perf_hooks';

/**
 * Time as the session timers see it. Deadlines are wall-clock milliseconds because they are
 * stored durably and must survive a restart; timers are armed with relative delays. Tests use
 * ManualClock so nothing waits for real.
 */

declare const timerBrand: unique symbol;
/** Opaque handle returned by setTimer; only the clock that made it can clear it. */
export type TimerHandle = { readonly [timerBrand]: true };

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Milliseconds from an arbitrary origin that never jumps (stops during suspend on some OSes). */
  monotonic(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, Math.max(0, ms)) as unknown as TimerHandle,
  clearTimer: (handle) => {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. advance(ms) fires every timer due within the step in due
 * order (ties in the order they were set), with now() equal to each timer's due time while it
 * runs, so callbacks observe exact instants. Timers set by a callback fire in the same advance
 * if they fall within it.
 */
export class ManualClock implements Clock {
  private wall: number;
  private mono = 0;
  private seq = 0;
  private timers: ManualTimer[] = [];
  /** How many times setTimer was called: lets tests prove a scheduler keeps O(1) real timers. */
  setTimerCalls = 0;

  constructor(startWallMs = Date.UTC(2025, 0, 1)) {
    this.wall = startWallMs;
  }

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    this.setTimerCalls++;
    const timer: ManualTimer = { due: this.mono + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    const timer = handle as unknown as ManualTimer;
    timer.cancelled = true;
    this.timers = this.timers.filter((t) => t !== timer);
  }

  /** Timers armed and not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves both clocks forward by ms, firing due timers in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): must be >= 0`);
    const target = this.mono + ms;
    // Bounded: a callback that re-arms a 0 ms timer forever would otherwise spin.
    for (let fired = 0; fired < 1_000_000; fired++) {
      const next = this.nextDue(target);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.wall += next.due - this.mono;
      this.mono = next.due;
      next.fn();
    }
    this.wall += target - this.mono;
    this.mono = target;
  }

  /** Moves only the wall clock (an NTP step or a manual change); no timer fires. */
  jumpWall(ms: number): void {
    this.wall += ms;
  }

  private nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled || t.due > limit) continue;
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
