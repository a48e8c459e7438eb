import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { Clock, TimerHandle } from './Clock.ts';

/**
 * Many deadlines, one real timer. A binary min-heap of (deadline, key) with each entry's heap
 * position kept on the entry, so schedule, reschedule and cancel are O(log n); a single timer
 * is armed for the earliest deadline. With 10,000 sessions that is one setTimeout, not 10,000,
 * and moving a deadline later (the common case: activity) does not even re-arm it: the timer
 * fires early, finds nothing due and arms for the new head.
 */

export interface DeadlineSchedulerOptions {
  /**
   * Longest delay a real timer is armed for. The heap is re-checked at least this often, which
   * bounds how late a deadline fires after the wall clock steps forward, and keeps delays below
   * setTimeout's 2^31-1 ms limit (beyond it Node fires after 1 ms).
   */
  maxArmMs: number;
  /** Most callbacks run in one timer tick before yielding to the event loop. */
  maxBatch: number;
  /** How many recent lateness samples are kept for percentiles (a ring buffer). */
  latenessSamples: number;
  /** Called when a due callback throws; the scheduler carries on with the next one. */
  onError: (err: unknown) => void;
}

export function defaultOptions(): DeadlineSchedulerOptions {
  return { maxArmMs: 30_000, maxBatch: 5_000, latenessSamples: 10_000, onError: () => {} };
}

export function validateOptions(options: DeadlineSchedulerOptions): DeadlineSchedulerOptions {
  const positiveInt = (name: string, v: number, max: number): void => {
    if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new LatchError(ErrorCode.CONFIG, `DeadlineScheduler ${name} must be an integer in 1..${max} (got ${v})`);
  };
  positiveInt('maxArmMs', options.maxArmMs, 2 ** 31 - 1);
  positiveInt('maxBatch', options.maxBatch, 1_000_000);
  positiveInt('latenessSamples', options.latenessSamples, 10_000_000);
  return options;
}

export interface LatenessReport {
  /** Callbacks fired since creation (or the last reset). */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface Entry<K> {
  readonly key: K;
  deadline: number;
  seq: number;
  index: number;
}

export class DeadlineScheduler<K> {
  private readonly clock: Clock;
  private readonly onDue: (key: K, deadline: number) => void;
  private readonly options: DeadlineSchedulerOptions;
  private readonly heap: Entry<K>[] = [];
  private readonly entries = new Map<K, Entry<K>>();
  private seq = 0;
  private timer: TimerHandle | undefined;
  /** Wall time the armed timer was meant for; Infinity when none is armed. */
  private armedFor = Infinity;
  private firing = false;
  private closed = false;
  private readonly samples: Float64Array;
  private sampleCount = 0;
  private maxLateness = 0;

  constructor(clock: Clock, onDue: (key: K, deadline: number) => void, options: Partial<DeadlineSchedulerOptions> = {}) {
    this.clock = clock;
    this.onDue = onDue;
    this.options = validateOptions({ ...defaultOptions(), ...options });
    this.samples = new Float64Array(this.options.latenessSamples);
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  deadlineOf(key: K): number | undefined {
    return this.entries.get(key)?.deadline;
  }

  /** Schedules key at deadline (wall ms), replacing any earlier schedule of the same key. */
  schedule(key: K, deadline: number): void {
    if (this.closed) throw new LatchError(ErrorCode.INTERNAL, 'DeadlineScheduler is closed');
    if (!Number.isFinite(deadline)) throw new LatchError(ErrorCode.INTERNAL, `deadline must be finite (got ${deadline})`);
    const existing = this.entries.get(key);
    if (existing) {
      const earlier = deadline < existing.deadline;
      existing.deadline = deadline;
      existing.seq = this.seq++;
      if (earlier) this.siftUp(existing.index);
      else this.siftDown(existing.index);
    } else {
      const entry: Entry<K> = { key, deadline, seq: this.seq++, index: this.heap.length };
      this.heap.push(entry);
      this.entries.set(key, entry);
      this.siftUp(entry.index);
    }
    this.arm();
  }

  cancel(key: K): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.removeAt(entry.index);
    this.entries.delete(key);
    this.arm();
    return true;
  }

  /** Drops every deadline and the real timer. */
  close(): void {
    this.closed = true;
    this.heap.length = 0;
    this.entries.clear();
    this.disarm();
  }

  lateness(): LatenessReport {
    const n = Math.min(this.sampleCount, this.samples.length);
    if (n === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const sorted = this.samples.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0;
    return { count: this.sampleCount, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: this.maxLateness };
  }

  resetLateness(): void {
    this.sampleCount = 0;
    this.maxLateness = 0;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    this.firing = true;
    let fired = 0;
    try {
      while (fired < this.options.maxBatch) {
        const head = this.heap[0];
        if (!head) break;
        const now = this.clock.now();
        if (head.deadline > now) break;
        this.removeAt(0);
        this.entries.delete(head.key);
        this.record(now - head.deadline);
        fired++;
        try {
          this.onDue(head.key, head.deadline);
        } catch (err) {
          this.options.onError(err);
        }
        if (this.closed) return;
      }
    } finally {
      this.firing = false;
    }
    const head = this.heap[0];
    if (fired >= this.options.maxBatch && head && head.deadline <= this.clock.now()) {
      // More are due: yield to I/O for a moment rather than run an unbounded loop.
      this.armedFor = head.deadline;
      this.timer = this.clock.setTimer(0, () => this.fire());
    } else {
      this.arm();
    }
  }

  private arm(): void {
    if (this.firing || this.closed) return; // fire() arms once when its batch is done
    const head = this.heap[0];
    if (!head) {
      this.disarm();
      return;
    }
    // An armed timer at or before the head still serves: it fires early and re-arms.
    if (this.timer !== undefined && this.armedFor <= head.deadline) return;
    this.disarm();
    const now = this.clock.now();
    const delay = Math.min(Math.max(0, head.deadline - now), this.options.maxArmMs);
    this.armedFor = now + delay;
    this.timer = this.clock.setTimer(delay, () => this.fire());
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private record(latenessMs: number): void {
    const late = Math.max(0, latenessMs);
    this.samples[this.sampleCount % this.samples.length] = late;
    this.sampleCount++;
    if (late > this.maxLateness) this.maxLateness = late;
  }

  // Binary heap with positions tracked on the entries.

  private less(a: Entry<K>, b: Entry<K>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  private place(entry: Entry<K>, index: number): void {
    this.heap[index] = entry;
    entry.index = index;
  }

  private removeAt(index: number): void {
    const last = this.heap.pop();
    if (!last || index === this.heap.length) return;
    this.place(last, index);
    this.siftUp(index);
    this.siftDown(last.index);
  }

  private siftUp(start: number): void {
    let index = start;
    const entry = this.heap[index];
    if (!entry) return;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.heap[parentIndex] as Entry<K>;
      if (!this.less(entry, parent)) break;
      this.place(parent, index);
      index = parentIndex;
    }
    this.place(entry, index);
  }

  private siftDown(start: number): void {
    let index = start;
    const entry = this.heap[index];
    if (!entry) return;
    const n = this.heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const leftEntry = this.heap[left] as Entry<K>;
      const rightEntry = right < n ? this.heap[right] : undefined;
      const childIndex = rightEntry && this.less(rightEntry, leftEntry) ? right : left;
      const child = childIndex === right && rightEntry ? rightEntry : leftEntry;
      if (!this.less(child, entry)) break;
      this.place(child, index);
      index = childIndex;
    }
    this.place(entry, index);
  }
}
