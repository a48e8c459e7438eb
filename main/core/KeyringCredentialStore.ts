import { randomBytes } from 'node:crypto';
import { AsyncEntry, findCredentialsAsync } from '@napi-rs/keyring';
import type { EntryOptions } from '@napi-rs/keyring';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { CredentialStore } from './CredentialStore.ts';

export interface KeyringCredentialStoreOptions {
  /** Keychain service name; every item Latch writes carries it. */
  service: string;
  /** Environment consulted to explain a failure (Linux: DBUS_SESSION_BUS_ADDRESS). */
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
}

export function defaultOptions(): KeyringCredentialStoreOptions {
  return { service: 'latch', env: process.env, platform: process.platform };
}

export function validateOptions(options: KeyringCredentialStoreOptions): KeyringCredentialStoreOptions {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.service)) {
    throw new LatchError(ErrorCode.CONFIG, `invalid keychain service name "${options.service}"`);
  }
  return options;
}

const CANARY_PREFIX = 'latch-probe:';

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
    await this.#call('store a secret in', async () => this.#entry(account).setPassword(secret));
  }

  async get(account: string): Promise<string | null> {
    return this.#call('read a secret from', async () => this.#entry(account).getPassword());
  }

  async delete(account: string): Promise<boolean> {
    return this.#call('delete a secret from', async () => this.#entry(account).deleteCredential());
  }

  async list(): Promise<string[]> {
    // The bus check comes first: without it findCredentials may consult the kernel keyring.
    this.#assertBus();
    const found = await this.#call('list secrets in', async () => findCredentialsAsync(this.service));
    return found.map((c) => c.account).filter((a) => !a.startsWith(CANARY_PREFIX));
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

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof LatchError) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      throw this.#unavailable(`could not ${what} the keychain: ${detail}`, err);
    }
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
