import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncEntry, findCredentialsAsync } from '@napi-rs/keyring';
import type { EntryOptions } from '@napi-rs/keyring';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { CredentialStore } from './CredentialStore.ts';
import { probeSessionBus } from './probeSessionBus.ts';

export interface KeyringCredentialStoreOptions {
  /** Keychain service name; every item Latch writes carries it. */
  service: string;
  /** Environment consulted to explain a failure (Linux: DBUS_SESSION_BUS_ADDRESS). */
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  /**
   * Longest wait for one keychain call. A keychain that never answers (a session bus whose other
   * end stopped reading) would otherwise hang sign-in, logout or the wipe forever. Generous,
   * because on macOS and Windows a call may wait for the person to allow access in a dialog.
   */
  timeoutMs: number;
}

export function defaultOptions(): KeyringCredentialStoreOptions {
  return { service: 'latch', env: process.env, platform: process.platform, timeoutMs: 60_000 };
}

export function validateOptions(options: KeyringCredentialStoreOptions): KeyringCredentialStoreOptions {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.service)) {
    throw new LatchError(ErrorCode.CONFIG, `invalid keychain service name "${options.service}"`);
  }
  if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1 || options.timeoutMs > 600_000) {
    throw new LatchError(ErrorCode.CONFIG, `keychain timeoutMs must be an integer in 1..600000 (got ${options.timeoutMs})`);
  }
  return options;
}

const CANARY_PREFIX = 'latch-probe:';

/**
 * Listing searches the service's items, then reads each one. An item deleted in between (another
 * Latch process wiping its own session, or the availability canary of another) fails the whole
 * listing, and the binding reports it as a generic failure: measured with gnome-keyring, 1 listing
 * in 10 under churn. Such a listing is repeated, a bounded number of times.
 */
const LIST_ATTEMPTS = 5;

/**
 * What a Secret Service answers for an item path that no longer exists: gnome-keyring says
 * UnknownMethod (seen) or UnknownObject; the Secret Service specification names NoSuchObject.
 */
const VANISHED_ITEM = /org\.freedesktop\.DBus\.Error\.(?:UnknownMethod|UnknownObject)|org\.freedesktop\.Secret\.Error\.NoSuchObject/;

/**
 * What a call gets when the Secret Service went away under it: the request was in flight when
 * the daemon died (NoReply), or the name has no owner until it is back (ServiceUnknown,
 * NameHasNoOwner). gnome-keyring has a known crash (a fatal GLib assertion when a client's record
 * is gone mid-request, seen in CI); D-Bus activation or a supervisor starts it again within
 * moments, so such a call is repeated after a pause instead of failing sign-in or a wipe. A name
 * with no owner is repeated only once the service has answered this store: on a desktop that has
 * no Secret Service at all, that is the answer, and it is given at once.
 */
const CALL_LOST = /org\.freedesktop\.DBus\.Error\.NoReply|disconnected from message bus without replying/;
const NO_SERVICE = /org\.freedesktop\.DBus\.Error\.(?:ServiceUnknown|NameHasNoOwner)|was not provided by any \.service files/;

/** Pauses before each repeat of a call whose Secret Service went away: about 3.5 s in all. */
const SERVICE_GONE_PAUSES_MS: readonly number[] = [100, 400, 1_000, 2_000];

function causeMatches(err: unknown, pattern: RegExp): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (pattern.test(e.message)) return true;
  }
  return false;
}

/** Longest wait for the session bus to answer its handshake before a keychain call. */
const BUS_PROBE_MS = 5_000;

/**
 * CredentialStore over the OS keychain through @napi-rs/keyring: macOS Keychain, Windows
 * Credential Manager, the Secret Service on Linux. On Linux the entry is pinned to the Secret
 * Service: the binding would otherwise fall back silently to the kernel keyring, which is not a
 * keychain the user can see or manage.
 */
export class KeyringCredentialStore implements CredentialStore {
  readonly service: string;
  readonly #options: KeyringCredentialStoreOptions;
  readonly #entryOptions: EntryOptions;
  /** A call has succeeded: a Secret Service with no owner now is one that went away. */
  #answered = false;

  constructor(options: Partial<KeyringCredentialStoreOptions> = {}) {
    this.#options = validateOptions({ ...defaultOptions(), ...options });
    this.service = this.#options.service;
    this.#entryOptions = { linux: { store: 'secret-service' } };
  }

  /**
   * Writes, reads back and deletes a random canary item, so a missing or locked keychain is a
   * clear error before anything that depends on it (sign-in) starts.
   */
  async assertAvailable(): Promise<void> {
    const account = `${CANARY_PREFIX}${randomBytes(8).toString('hex')}`;
    const value = randomBytes(16).toString('base64url');
    await this.set(account, value);
    let readBack: string | null;
    try {
      readBack = await this.get(account);
    } finally {
      await this.delete(account).catch(() => false);
    }
    if (readBack !== value) {
      throw this.#unavailable('the keychain accepted a test item but returned something else (is it locked?)');
    }
  }

  async set(account: string, secret: string): Promise<void> {
    await this.#call('store a secret in', async (signal) => this.#entry(account).setPassword(secret, signal));
  }

  async get(account: string): Promise<string | null> {
    return this.#call('read a secret from', async (signal) => this.#entry(account).getPassword(signal));
  }

  async delete(account: string): Promise<boolean> {
    return this.#call('delete a secret from', async (signal) => this.#entry(account).deleteCredential(signal));
  }

  async list(): Promise<string[]> {
    // The bus check comes first: without it findCredentials may consult the kernel keyring.
    this.#assertBus();
    for (let attempt = 1; ; attempt++) {
      try {
        const found = await this.#call('list secrets in', async (signal) => findCredentialsAsync(this.service, undefined, signal));
        return found.map((c) => c.account).filter((a) => !a.startsWith(CANARY_PREFIX));
      } catch (err) {
        if (attempt >= LIST_ATTEMPTS || !causeMatches(err, VANISHED_ITEM)) throw err;
      }
    }
  }

  #entry(account: string): AsyncEntry {
    if (account === '' || account.length > 256) throw new LatchError(ErrorCode.INTERNAL, 'invalid keychain account name');
    this.#assertBus();
    return new AsyncEntry(this.service, account, this.#entryOptions);
  }

  #assertBus(): void {
    if (this.#options.platform !== 'linux') return;
    const bus = this.#options.env['DBUS_SESSION_BUS_ADDRESS'];
    if (bus === undefined || bus === '') {
      throw this.#unavailable('no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)');
    }
  }

  /**
   * Runs a keychain call, repeating it while the Secret Service is away (CALL_LOST, NO_SERVICE)
   * after each of SERVICE_GONE_PAUSES_MS; no repeat starts past timeoutMs from the first attempt.
   * Every call Latch makes can be repeated: storing the same value again, reading, or deleting
   * what may be gone already.
   */
  async #call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.#callOnce(what, fn);
        this.#answered = true;
        return result;
      } catch (err) {
        const pause = SERVICE_GONE_PAUSES_MS[attempt];
        const gone = causeMatches(err, CALL_LOST) || (this.#answered && causeMatches(err, NO_SERVICE));
        if (pause === undefined || !gone || Date.now() - started + pause >= this.#options.timeoutMs) throw err;
        await sleep(pause);
      }
    }
  }

  /**
   * Runs one keychain call, bounded by timeoutMs. The binding is handed an AbortSignal, and the
   * wait ends at the deadline even if the native call does not notice it (a call blocked in a
   * worker thread cannot be interrupted); the caller gets KEYCHAIN_UNAVAILABLE either way.
   */
  async #callOnce<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    await this.#assertBusAnswers();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(this.#unavailable(`the keychain did not answer within ${this.#options.timeoutMs} ms (asked to ${what} it)`));
      }, this.#options.timeoutMs);
    });
    try {
      return await Promise.race([fn(controller.signal), timedOut]);
    } catch (err) {
      if (err instanceof LatchError) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      throw this.#unavailable(`could not ${what} the keychain: ${detail}`, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Linux: the binding connects to the session bus synchronously, on the JS thread, so a bus that
   * accepts connections and never answers would freeze the whole process (no timer could fire).
   * Ask the bus first, asynchronously and with a deadline.
   */
  async #assertBusAnswers(): Promise<void> {
    if (this.#options.platform !== 'linux') return;
    const bus = this.#options.env['DBUS_SESSION_BUS_ADDRESS'];
    if (bus === undefined || bus === '') return; // #assertBus names this case
    const problem = await probeSessionBus(bus, Math.min(this.#options.timeoutMs, BUS_PROBE_MS));
    if (problem !== null) throw this.#unavailable(problem);
  }

  #unavailable(detail: string, cause?: unknown): LatchError {
    const hint =
      this.#options.platform === 'linux'
        ? 'no usable Secret Service on the session bus: start and unlock gnome-keyring (or another Secret Service keychain)'
        : 'the OS keychain is not usable: unlock it or allow access';
    return new LatchError(
      ErrorCode.KEYCHAIN_UNAVAILABLE,
      `${hint}; Latch never stores secrets in files (${detail})`,
      cause === undefined ? undefined : { cause },
    );
  }
}
