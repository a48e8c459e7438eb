/**
 * Deletes every keychain item of an ended session and remembers to tell the proxy
 * (`credentials.wiped`, audited there). Every end path calls wipe(): the proxy's session.ended,
 * a local deadline, logout, a refused reconnect. So it is idempotent, retries a keychain that
 * errors (with backoff, bounded in attempts and in time), and verifies by listing again that
 * nothing of the session is left before it reports success.
 */
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { CredentialsWipedMessage } from '../../../common/session.ts';
import { systemClock, type Clock } from './Clock.ts';
import { Elapsed } from './Elapsed.ts';
import type { PendingWipes } from './PendingWipes.ts';

/** The part of a CredentialStore (main/core/CredentialStore.ts) a wipe needs. */
export interface WipeTarget {
  /** Removes `account`; resolves false when there was nothing to remove. */
  delete(account: string): Promise<boolean>;
  /** Accounts of this store's service. */
  list(): Promise<string[]>;
}

export interface CredentialWiperOptions {
  target: WipeTarget;
  pending: PendingWipes;
  clock: Clock;
  /** Attempts at list → delete → verify before giving up with WIPE_FAILED. */
  maxAttempts: number;
  /** No new attempt starts once this much time has passed since the wipe began. */
  maxTotalMs: number;
  /** Wait before the second attempt; doubles each time up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A single keychain call that takes longer than this counts as a failed call. */
  callTimeoutMs: number;
  /**
   * Accounts `<sessionId>:<suffix>` deleted even when list() does not show them (the secrets the
   * client itself stores), so a keychain whose listing is incomplete still loses them.
   */
  knownSuffixes: readonly string[];
}

export function defaultCredentialWiperOptions(): Omit<CredentialWiperOptions, 'target' | 'pending'> {
  return {
    clock: systemClock,
    maxAttempts: 6,
    maxTotalMs: 15_000,
    initialBackoffMs: 200,
    maxBackoffMs: 3_000,
    callTimeoutMs: 5_000,
    knownSuffixes: ['key', 'cert', 'token'],
  };
}

function validateOptions(o: CredentialWiperOptions): CredentialWiperOptions {
  if (!o.target || typeof o.target.delete !== 'function' || typeof o.target.list !== 'function') {
    throw new LatchError(ErrorCode.CONFIG, 'CredentialWiper: target must have delete(account) and list()');
  }
  if (!o.pending || typeof o.pending.add !== 'function' || typeof o.pending.list !== 'function' || typeof o.pending.remove !== 'function') {
    throw new LatchError(ErrorCode.CONFIG, 'CredentialWiper: pending must have add, list and remove');
  }
  if (!(Number.isInteger(o.maxAttempts) && o.maxAttempts >= 1)) throw new LatchError(ErrorCode.CONFIG, `CredentialWiper: maxAttempts must be an integer >= 1, got ${o.maxAttempts}`);
  for (const key of ['maxTotalMs', 'initialBackoffMs', 'maxBackoffMs', 'callTimeoutMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] > 0)) throw new LatchError(ErrorCode.CONFIG, `CredentialWiper: ${key} must be a positive number of ms, got ${String(o[key])}`);
  }
  if (!Array.isArray(o.knownSuffixes) || !o.knownSuffixes.every((s) => typeof s === 'string' && s !== '')) {
    throw new LatchError(ErrorCode.CONFIG, 'CredentialWiper: knownSuffixes must be non-empty strings');
  }
  return o;
}

export interface WipeResult {
  sessionId: string;
  /** Items this call deleted (0 when they were already gone). */
  deleted: number;
  /** Attempts it took (1 when the keychain answered at once). */
  attempts: number;
  /** A credentials.wiped confirmation is waiting for the proxy (false when already sent). */
  pendingConfirmation: boolean;
}

export class CredentialWiper {
  readonly #o: CredentialWiperOptions;
  readonly #inFlight = new Map<string, Promise<WipeResult>>();
  /** Sessions whose wipe was confirmed to the proxy by this process: a repeat wipe is not re-confirmed. */
  readonly #confirmed = new Set<string>();

  constructor(options: Pick<CredentialWiperOptions, 'target' | 'pending'> & Partial<CredentialWiperOptions>) {
    this.#o = validateOptions({ ...defaultCredentialWiperOptions(), ...options });
  }

  /**
   * Deletes every item whose account starts with `${sessionId}:` and verifies none is left.
   * Concurrent calls for one session share one run. Rejects with WIPE_FAILED (cause: the last
   * keychain error) once the attempts or the time bound are used up.
   */
  wipe(sessionId: string): Promise<WipeResult> {
    if (typeof sessionId !== 'string' || sessionId === '' || sessionId.includes(':')) {
      return Promise.reject(new LatchError(ErrorCode.USAGE, `wipe: invalid session id ${JSON.stringify(sessionId)}`));
    }
    const running = this.#inFlight.get(sessionId);
    if (running) return running;
    const run = this.#wipe(sessionId).finally(() => {
      this.#inFlight.delete(sessionId);
    });
    this.#inFlight.set(sessionId, run);
    return run;
  }

  /**
   * Sends credentials.wiped for every recorded wipe, oldest first, and forgets each one sent.
   * Call it on every contact with the proxy. If send throws (the connection went away), the
   * rest stay recorded for next time and the error is rethrown. Resolves with the number sent.
   */
  async confirmPending(send: (msg: CredentialsWipedMessage) => void | Promise<void>): Promise<number> {
    let sent = 0;
    for (const entry of await this.#o.pending.list()) {
      await send({ type: 'credentials.wiped', sessionId: entry.sessionId, items: entry.items });
      await this.#o.pending.remove(entry.sessionId);
      this.#confirmed.add(entry.sessionId);
      sent++;
    }
    return sent;
  }

  async #wipe(sessionId: string): Promise<WipeResult> {
    const prefix = `${sessionId}:`;
    const mine = (accounts: string[]): string[] => accounts.filter((a) => a.startsWith(prefix));
    const since = new Elapsed(this.#o.clock);
    let deleted = 0;
    let backoff = this.#o.initialBackoffMs;
    let lastError: unknown = null;
    let left = -1;

    for (let attempt = 1; ; attempt++) {
      try {
        const listed = mine(await this.#call(() => this.#o.target.list(), 'list'));
        const accounts = new Set([...this.#o.knownSuffixes.map((s) => prefix + s), ...listed]);
        // Try every item even when one fails, so one stuck item does not shield the others.
        for (const account of accounts) {
          try {
            if (await this.#call(() => this.#o.target.delete(account), 'delete')) deleted++;
          } catch (err) {
            lastError = err;
          }
        }
        left = mine(await this.#call(() => this.#o.target.list(), 'list')).length;
        if (left === 0) return await this.#recorded(sessionId, deleted, attempt);
      } catch (err) {
        lastError = err;
      }

      const outOfTime = since.ms() + backoff > this.#o.maxTotalMs;
      if (attempt >= this.#o.maxAttempts || outOfTime) {
        const what = left > 0 ? `${left} keychain item(s) of session ${sessionId} are still there` : `the keychain kept failing for session ${sessionId}`;
        const bound = outOfTime ? `${this.#o.maxTotalMs} ms` : `${attempt} attempt(s)`;
        throw new LatchError(ErrorCode.WIPE_FAILED, `could not wipe the session's credentials: ${what} after ${bound}`, { cause: lastError });
      }
      await this.#sleep(backoff);
      backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
    }
  }

  async #recorded(sessionId: string, deleted: number, attempts: number): Promise<WipeResult> {
    const earlier = (await this.#o.pending.list()).find((e) => e.sessionId === sessionId);
    if (earlier) {
      await this.#o.pending.add({ sessionId, items: earlier.items + deleted });
      return { sessionId, deleted, attempts, pendingConfirmation: true };
    }
    // Already confirmed by this process and nothing new removed: a repeat, not news for the proxy.
    if (deleted === 0 && this.#confirmed.has(sessionId)) return { sessionId, deleted, attempts, pendingConfirmation: false };
    await this.#o.pending.add({ sessionId, items: deleted });
    return { sessionId, deleted, attempts, pendingConfirmation: true };
  }

  #call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    const { clock, callTimeoutMs } = this.#o;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimer(callTimeoutMs, () => {
        reject(new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, `keychain ${what} did not answer within ${callTimeoutMs} ms`));
      });
      let pending: Promise<T>;
      try {
        pending = fn();
      } catch (err) {
        pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      pending.then(
        (value) => {
          clock.clearTimer(timer);
          resolve(value);
        },
        (err: unknown) => {
          clock.clearTimer(timer);
          reject(err instanceof Error ? err : new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, `keychain ${what} failed: ${String(err)}`));
        },
      );
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#o.clock.setTimer(ms, resolve);
    });
  }
}
