/**
 * Where Latch keeps secrets: the session's private key, certificate and bearer token. The only
 * implementations are OS keychains; there is deliberately no file-backed one. Every method
 * rejects with LATCH_ERR_KEYCHAIN_UNAVAILABLE when the keychain cannot be used.
 */
export interface CredentialStore {
  /**
   * Proves the keychain works right now (a write, read and delete of a throwaway item), so a
   * missing or locked keychain is reported before anything depends on it.
   */
  assertAvailable(): Promise<void>;
  /** Stores (or replaces) the secret of `account` under this store's service. */
  set(account: string, secret: string): Promise<void>;
  /** The secret of `account`, or null when there is none. */
  get(account: string): Promise<string | null>;
  /** Removes `account`; resolves false when there was nothing to remove. */
  delete(account: string): Promise<boolean>;
  /** Accounts of this store's service. */
  list(): Promise<string[]>;
}
