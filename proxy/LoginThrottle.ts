import { ErrorCode, LatchError } from '../common/errors.ts';

/**
 * Slows password guessing: after `maxFailures` failed attempts for one user from one address
 * within `windowMs`, further attempts for that pair are refused (RATE_LIMITED, HTTP 429) until
 * the window ends. Keyed by address AND user so that an attacker elsewhere cannot lock a user
 * out. Enrollment codes carry 100 random bits and need no throttle. Memory is bounded: the
 * oldest entries are dropped beyond `maxEntries`.
 */

export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxEntries: number;
  now: () => number;
}

export function defaultThrottleOptions(): LoginThrottleOptions {
  return { maxFailures: 10, windowMs: 15 * 60_000, maxEntries: 10_000, now: Date.now };
}

interface Entry {
  failures: number;
  windowStart: number;
}

export class LoginThrottle {
  private readonly options: LoginThrottleOptions;
  private readonly entries = new Map<string, Entry>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.options = { ...defaultThrottleOptions(), ...options };
  }

  private static key(address: string, user: string): string {
    return `${address}\u0000${user}`;
  }

  /** Throws RATE_LIMITED when this pair has used up its attempts. */
  check(address: string, user: string): void {
    const key = LoginThrottle.key(address, user);
    const entry = this.entries.get(key);
    if (!entry) return;
    const elapsed = this.options.now() - entry.windowStart;
    if (elapsed >= this.options.windowMs) {
      this.entries.delete(key);
      return;
    }
    if (entry.failures >= this.options.maxFailures) {
      const retryS = Math.ceil((this.options.windowMs - elapsed) / 1000);
      throw new LatchError(ErrorCode.RATE_LIMITED, `too many failed sign-ins; try again in ${retryS} s`);
    }
  }

  failed(address: string, user: string): void {
    const key = LoginThrottle.key(address, user);
    const now = this.options.now();
    const entry = this.entries.get(key);
    if (entry && now - entry.windowStart < this.options.windowMs) {
      entry.failures += 1;
      return;
    }
    this.entries.delete(key);
    this.entries.set(key, { failures: 1, windowStart: now });
    // Map iteration order is insertion order: the first key is the oldest window.
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  succeeded(address: string, user: string): void {
    this.entries.delete(LoginThrottle.key(address, user));
  }
}
